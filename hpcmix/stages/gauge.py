"""Gauge-field stages: generate, load, save, and the plaquette.

Format names (``load_gauge`` and ``save_gauge`` ``format``) are checked when the deck is validated:
any case, and the aliases "lime" and "scidac" for the ILDG/SciDAC LIME format
(:func:`hpcmix.io.formats.format_name`).

``save_gauge`` ``precision``: "auto" (the default) writes the format's default precision, double
for every built-in format but MILC, whose binary files hold single precision only, so a MILC user
gets the file MILC writes; an explicit precision the format cannot hold (double for MILC) is a deck
error. The file must not exist yet: that too is checked before any stage runs.

``load_gauge`` ``reunitarize = true`` projects every link onto SU(3) in float64 after the file's
checks (:func:`hpcmix.io.links.reunitarize`; MILC does this for its single-precision files), and
records the largest change of a link entry as the stage's ``reunitarize_max_change`` attribute.
A boundary sign taken out of the links on reading (QUDA's files) is logged and recorded as the
attributes ``boundary_sign_removed`` and ``boundary_sign_links``, and in the files ``save_gauge`` writes.
"""

import math
from pathlib import Path

import numpy as np

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from ..io.formats import detect, format_name, lookup
from ..io.links import boundary_sign_note, reunitarize
from ..memory import GAUGE
from ..params import Param, PathParam, Ref, LATEST
from .base import Stage

#: Stored type of each precision name.
DTYPES = {"double": np.complex128, "single": np.complex64}


class GenerateGauge(Stage):
    name = "generate_gauge"
    description = "make a gauge field: unit, Haar-random SU(3) (hot start) or weak field exp(i eps H)"
    produces = "gauge"
    params = {
        "start": Param(str, "weak", "which field", choices=("unit", "random", "weak")),
        "seed": Param(int, 1, "random seed, >= 0 (the field does not depend on the process grid)",
                      check=lambda v: None if v >= 0 else "must be >= 0 (numpy's seeds are non-negative)"),
        "epsilon": Param(float, 0.2, "weak-field strength: U = exp(i epsilon H), H Gaussian Hermitian traceless"),
    }

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Kept: the gauge field (576 bytes per site); working: the generator's time slices and their
        temporaries (about one field more)."""
        return GAUGE * math.prod(local_dims), GAUGE * math.prod(local_dims)

    def run(self, ctx, cfg):
        if cfg["start"] == "unit":
            gauge = GaugeField.unit(ctx.lattice)
        elif cfg["start"] == "random":
            gauge = GaugeField.random(ctx.lattice, cfg["seed"])
        else:
            gauge = GaugeField.weak(ctx.lattice, cfg["seed"], cfg["epsilon"])
        ctx.results.set_attrs(ctx.stage, dict(gauge.metadata, plaquette=gauge.plaquette()))
        return gauge


def boundary_sign(gauge):
    """The record of a boundary sign taken out of ``gauge``'s links on reading ({} where none was)."""
    return {k: v for k, v in gauge.metadata.items() if k.startswith("boundary_sign_")}


def _format_problem(registry, name):
    """("format", message) where ``name`` names no registered format, else None."""
    try:
        format_name(registry, name)
    except FormatError as exc:
        return ("format", str(exc))
    return None


class LoadGauge(Stage):
    name = "load_gauge"
    description = "read a gauge field (hpcmix HDF5, or any registered format) with every check on"
    produces = "gauge"
    params = {
        "file": Param(PathParam(), doc="gauge file (relative to the deck's folder)"),
        "format": Param(str, "auto", "format name (any case; lime and scidac mean ildg), or 'auto' to detect it"),
        "verify": Param(bool, True, "checksum, plaquette and unitarity checks are errors (false: warnings)"),
        "reunitarize": Param(bool, False, "project every link onto SU(3) in float64 after loading (as MILC "
                                          "does for single-precision files); the largest change is recorded"),
    }

    @staticmethod
    def validate_config(cfg, registry):
        return None if cfg["format"].lower() == "auto" else _format_problem(registry, cfg["format"])

    @staticmethod
    def file_dims(cfg, registry):
        """The lattice extents the file holds (read from its header, checked against the file's size)."""
        fmt = detect(registry, cfg["file"], cfg["format"])
        return fmt.read_dims(cfg["file"])

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Kept: the gauge field (576 bytes per site); working: the links as read and the products of the
        unitarity and plaquette checks (about two fields more)."""
        return 2 * GAUGE * math.prod(local_dims), GAUGE * math.prod(local_dims)

    def run(self, ctx, cfg):
        fmt = collective(ctx.lattice.pg, lambda: detect(ctx.registry, cfg["file"], cfg["format"]), FormatError)
        gauge = fmt.read(cfg["file"], ctx.lattice, verify=cfg["verify"])
        attrs = {"file": cfg["file"], "format": fmt.name, "reunitarized": cfg["reunitarize"], **boundary_sign(gauge)}
        note = boundary_sign_note(gauge.metadata)
        if note:
            ctx.log(note)
        if cfg["reunitarize"]:
            attrs["reunitarize_max_change"] = change = reunitarize(gauge)
            ctx.log(f"reunitarized every link in float64 (largest change of a link entry {change:.3e})")
        attrs["plaquette"] = plaq = gauge.plaquette()
        ctx.results.set_attrs(ctx.stage, attrs)
        ctx.log(f"loaded {cfg['file']} ({fmt.name}), plaquette {plaq:.12f}")
        return gauge


class SaveGauge(Stage):
    name = "save_gauge"
    description = "write a gauge field to a file (never over an existing one)"
    produces = None
    params = {
        "gauge": Param(Ref("gauge"), LATEST, "the gauge field to save"),
        "file": Param(PathParam(must_exist=False), doc="output file (relative to the deck's folder); must not exist"),
        "format": Param(str, "hpcmix", "format to write (any case; lime and scidac mean ildg)"),
        "precision": Param(str, "auto", "stored precision; 'auto': the format's default (double, but single for "
                                        "MILC, which holds nothing else)", choices=("auto", "double", "single")),
    }

    @staticmethod
    def validate_config(cfg, registry):
        problem = _format_problem(registry, cfg["format"])
        if problem:
            return problem
        fmt = lookup(registry, cfg["format"])
        if not fmt.can_write:
            writable = [e.name for e in registry.entries("formats") if e.obj.can_write]
            return ("format", f"format '{fmt.name}' cannot be written; writable formats: {', '.join(writable)}")
        if cfg["precision"] not in ("auto",) + tuple(fmt.precisions):
            return ("precision", f"format '{fmt.name}' holds {' or '.join(fmt.precisions)} precision only, not "
                                 f"{cfg['precision']}; set precision = \"{fmt.precisions[0]}\" (or \"auto\")")
        return None

    @staticmethod
    def check_inputs(cfg, validator, stage):
        """The file to write must not exist yet (it is never replaced), nor be written by an earlier stage."""
        path = Path(cfg["file"])
        if path.is_dir():
            raise validator.error(f"{path} is a directory; name the file to write", stage, "file")
        if path.exists():
            raise validator.error(f"{path} exists; save_gauge never replaces a file (remove it or choose "
                                  "another name)", stage, "file")
        earlier = [name for name, other in validator.configs.items() if other.get("file") == cfg["file"]]
        if earlier:
            raise validator.error(f"{path} is written by the earlier stage '{earlier[0]}' already; save_gauge "
                                  "never replaces a file (choose another name)", stage, "file")

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Working: the links converted to the file's layout and precision (about one field); keeps nothing."""
        return GAUGE * math.prod(local_dims), 0

    def run(self, ctx, cfg):
        fmt = lookup(ctx.registry, cfg["format"])
        precision = fmt.precisions[0] if cfg["precision"] == "auto" else cfg["precision"]
        gauge = ctx.objects[cfg["gauge"]]
        fmt.write(cfg["file"], gauge, boundary_sign(gauge), dtype=DTYPES[precision])
        ctx.results.set_attrs(ctx.stage, {"file": cfg["file"], "format": fmt.name, "precision": precision})
        ctx.log(f"wrote {cfg['file']} ({fmt.name}, {precision} precision)")


class Plaquette(Stage):
    name = "plaquette"
    description = "average plaquette (normalized to 1 on the unit field) and link trace"
    produces = None
    params = {"gauge": Param(Ref("gauge"), LATEST, "the gauge field")}

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Working: the products of links along the plaquettes (about one field); keeps nothing."""
        return GAUGE * math.prod(local_dims), 0

    def run(self, ctx, cfg):
        gauge = ctx.objects[cfg["gauge"]]
        plaq, trace = gauge.plaquette(), gauge.link_trace()
        ctx.results.set_attrs(ctx.stage, {"plaquette": plaq, "link_trace": trace, "gauge": cfg["gauge"]})
        ctx.log(f"plaquette {plaq:.15f}  link trace {trace:.15f}")
        return plaq
