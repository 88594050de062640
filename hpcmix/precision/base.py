"""The precision interface.

A precision is registered through the ``precisions`` hook. ``role`` says where it applies:
"field" precisions store lattice fields (double, single, half, quarter, ...; see DESIGN.md),
"factorization" precisions are the formats a dense LU runs in (fp32, tf32, bf16, fp16, ...).
"""


class Precision:
    name = ""
    role = "field"          # "field" or "factorization"
    description = ""
    bytes_per_real = 8
    unit_roundoff = 2.0 ** -53

    def __repr__(self):
        return f"<precision {self.name}>"
