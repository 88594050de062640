"""Twisted-mass Wilson fermions for hpcmix."""

__version__ = "0.1.0"
