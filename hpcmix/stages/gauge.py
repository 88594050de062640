"""Gauge-field stages: generate, load, save, and the plaquette."""

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from ..io.formats import detect
from ..params import Param, PathParam, Ref, LATEST
from .base import Stage


class GenerateGauge(Stage):
    name = "generate_gauge"
    description = "make a gauge field: unit, Haar-random SU(3) (hot start) or weak field exp(i eps H)"
    produces = "gauge"
    params = {
        "start": Param(str, "weak", "which field", choices=("unit", "random", "weak")),
        "seed": Param(int, 1, "random seed (the field does not depend on the process grid)"),
        "epsilon": Param(float, 0.2, "weak-field strength: U = exp(i epsilon H), H Gaussian Hermitian traceless"),
    }

    def run(self, ctx, cfg):
        if cfg["start"] == "unit":
            gauge = GaugeField.unit(ctx.lattice)
        elif cfg["start"] == "random":
            gauge = GaugeField.random(ctx.lattice, cfg["seed"])
        else:
            gauge = GaugeField.weak(ctx.lattice, cfg["seed"], cfg["epsilon"])
        ctx.results.set_attrs(ctx.stage, dict(gauge.metadata, plaquette=gauge.plaquette()))
        return gauge


class LoadGauge(Stage):
    name = "load_gauge"
    description = "read a gauge field (hpcmix HDF5, or any registered format) with every check on"
    produces = "gauge"
    params = {
        "file": Param(PathParam(), doc="gauge file (relative to the deck's folder)"),
        "format": Param(str, "auto", "format name, or 'auto' to detect it"),
        "verify": Param(bool, True, "checksum, plaquette and unitarity checks are errors (false: warnings)"),
    }

    @staticmethod
    def file_dims(cfg, registry):
        """The lattice extents the file holds (read from its header)."""
        fmt = detect(registry, cfg["file"], cfg["format"])
        return fmt.read_dims(cfg["file"])

    def run(self, ctx, cfg):
        fmt = collective(ctx.lattice.pg, lambda: detect(ctx.registry, cfg["file"], cfg["format"]), FormatError)
        gauge = fmt.read(cfg["file"], ctx.lattice, verify=cfg["verify"])
        plaq = gauge.plaquette()
        ctx.results.set_attrs(ctx.stage, {"file": cfg["file"], "format": fmt.name, "plaquette": plaq})
        ctx.log(f"loaded {cfg['file']} ({fmt.name}), plaquette {plaq:.12f}")
        return gauge


class SaveGauge(Stage):
    name = "save_gauge"
    description = "write a gauge field to a file (never over an existing one)"
    produces = None
    params = {
        "gauge": Param(Ref("gauge"), LATEST, "the gauge field to save"),
        "file": Param(PathParam(must_exist=False), doc="output file (relative to the deck's folder)"),
        "format": Param(str, "hpcmix", "format to write"),
        "precision": Param(str, "double", "stored precision", choices=("double", "single")),
    }

    def run(self, ctx, cfg):
        fmt = ctx.registry.lookup("formats", cfg["format"])
        gauge = ctx.objects[cfg["gauge"]]
        kwargs = {"dtype": "complex64"} if cfg["precision"] == "single" else {}
        fmt.write(cfg["file"], gauge, **kwargs)
        ctx.results.set_attrs(ctx.stage, {"file": cfg["file"], "format": fmt.name})
        ctx.log(f"wrote {cfg['file']} ({fmt.name})")


class Plaquette(Stage):
    name = "plaquette"
    description = "average plaquette (normalized to 1 on the unit field) and link trace"
    produces = None
    params = {"gauge": Param(Ref("gauge"), LATEST, "the gauge field")}

    def run(self, ctx, cfg):
        gauge = ctx.objects[cfg["gauge"]]
        plaq, trace = gauge.plaquette(), gauge.link_trace()
        ctx.results.set_attrs(ctx.stage, {"plaquette": plaq, "link_trace": trace, "gauge": cfg["gauge"]})
        ctx.log(f"plaquette {plaq:.15f}  link trace {trace:.15f}")
        return plaq
