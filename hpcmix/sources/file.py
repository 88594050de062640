"""A source read from a file: one right-hand side, the vector the file holds.

Format ``scidac`` (or ``auto``, which recognizes it): a SciDAC LIME file of one color vector
(``QDP_F3_ColorVector`` / ``QDP_D3_ColorVector``: staggered fields, site shape (3,)) or Dirac
fermion (``QDP_[FD]3_DiracFermion``: Wilson-type fields, site shape (4, 3)), as MILC, QIO and Chroma
write them; read with :func:`hpcmix.io.scidac_vector.read_vector`, checksum verified. The site
shape must be the one the operator acts on. Correlators are measured from time slice 0.
"""

from ..errors import FormatError
from ..io.scidac_vector import KINDS, is_vector_file, read_vector, vector_info
from ..params import Param, PathParam

FORMATS = ("auto", "scidac")


class FileSource:
    name = "file"
    description = "one right-hand side read from a file (SciDAC color vector or Dirac fermion)"
    params = {
        "file": Param(PathParam(), doc="the vector file (relative to the deck's folder)"),
        "format": Param(str, "auto", "file format; 'auto' detects it", choices=FORMATS),
        "verify": Param(bool, True, "a checksum mismatch is an error (false: a warning)"),
    }

    @classmethod
    def check_lattice(cls, cfg, dims):
        if not is_vector_file(cfg["file"]):
            return ("file", f"{cfg['file']} is not a SciDAC color-vector or Dirac-fermion file")
        held = vector_info(cfg["file"])[0].dims
        if list(held) != list(dims):
            return ("file", f"{cfg['file']} holds lattice {held}, the deck's lattice is {list(dims)}")
        return None

    @classmethod
    def check_field(cls, cfg, field_shape):
        """The file's field kind (from its record headers) must be what the operator acts on."""
        kind = vector_info(cfg["file"])[1]
        if tuple(KINDS[kind]) != tuple(field_shape):
            return ("file", f"{cfg['file']} holds a {kind} field (site shape {KINDS[kind]}), but the operator acts "
                    f"on fields of site shape {tuple(field_shape)}")
        return None

    @classmethod
    def origin(cls, cfg):
        return 0

    @classmethod
    def build(cls, lattice, cfg, field_shape, ctx):
        vector = read_vector(cfg["file"], lattice, verify=cfg["verify"])
        site_shape = vector.shape[4:]
        if tuple(site_shape) != tuple(field_shape):
            held = next(k for k, shape in KINDS.items() if shape == site_shape)
            error = FormatError(f"holds a {held} field (site shape {site_shape}), but the operator acts on "
                                f"fields of site shape {tuple(field_shape)}", file=cfg["file"])
            error.collective = True
            raise error
        return [vector]
