"""Precisions: registered objects that say how numbers are stored and computed on."""

from .base import Precision

__all__ = ["Precision"]
