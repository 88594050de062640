"""Precisions: registered objects that say how numbers are stored and computed on.

Field precisions (:class:`FieldPrecision`) encode a complex field into a :class:`Stored` (storage
arrays that decode, convert and shift on the lattice as stored) and gauge links compressed with
reconstruct 18, 12 or 8. Built in: ``double``, ``single``, ``half``, ``quarter``; plugins add more.
"""

from .base import FieldPrecision, Precision, resolve, to_precision
from .fixed_point import HALF, QUARTER, FixedPoint
from .ieee import DOUBLE, SINGLE, IEEEPrecision
from .reconstruct import RECONSTRUCTS
from .stored import Stored

__all__ = ["Precision", "FieldPrecision", "IEEEPrecision", "FixedPoint", "Stored", "DOUBLE", "SINGLE", "HALF",
           "QUARTER", "RECONSTRUCTS", "resolve", "to_precision"]
