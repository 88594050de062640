"""Per-site arithmetic of the stencils, written once as generated straight-line code.

The physics (spin projection, link decoding, SU(3) products) is emitted as Python statements on
real scalars by the generators in this package; a backend compiles them for its target (the numba
CPU backend inside a loop over the lanes of a row, so the compiler vectorizes across sites).
"""
