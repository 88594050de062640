"""Pipeline stages: each reads named objects from earlier stages and writes its results."""

from .base import Context, Stage

__all__ = ["Context", "Stage"]
