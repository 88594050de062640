"""QUDA's four precisions for a solver: their deck keys, validation and resolution.

Deck keys of the mixed-precision solvers (``cg``, ``bicgstab``, ``gcr``, ``defect_correction``),
with QUDA's ``QudaInvertParam`` names:

=========================  ===============================  ================================================
key                        QUDA                             meaning
=========================  ===============================  ================================================
``precision``              ``cuda_prec``                    outer precision: solution, true residual
``sloppy``                 ``cuda_prec_sloppy``             the inner (sloppy) iterations; "same" = precision
``precision_preconditioner`` ``cuda_prec_precondition``     a preconditioner's operator; "sloppy" = sloppy
                                                            (``preconditioner`` is GCR's nested solver)
``eigensolver``            ``cuda_prec_eigensolver``        a deflation eigensolver's operator; "same" =
                                                            precision (validated; no eigensolver uses it yet)
``reconstruct``            ``reconstruct``                  link compression of the outer operator: 18, 12, 8
``reconstruct_sloppy``     ``reconstruct_sloppy``           ... of the sloppy (and preconditioner) operator
``reliable_delta``         ``reliable_delta``               residual reduction that triggers a reliable update
``max_res_increase``       ``max_res_increase``             consecutive true-residual increases tolerated
``max_res_increase_total`` ``max_res_increase_total``       total true-residual increases tolerated
``alternative_reliable``   ``use_alternative_reliable``     van der Vorst-Ye trigger instead of delta (cg)
``fallback``               (hpcmix)                         on too many increases, continue in the next
                                                            higher precision instead of stopping
=========================  ===============================  ================================================

Uniform precision is the special case ``sloppy == precision`` (one reconstruct): the solver runs the
same loop with the outer operator as its sloppy one, and a reliable update is then a cheap
recomputation of the true residual (as in QUDA). ``defect_correction`` has ``inner_tol`` instead of
``reliable_delta`` and ``alternative_reliable``.

Fallback chain (followed by :mod:`hpcmix.solvers.fallback`): from the sloppy precision, each step
goes to the least precise registered field precision at least twice as precise (unit roundoff at
most half), ending at the outer precision: quarter -> half -> single -> double with the built-ins.
The sloppy reconstruct is kept where the new precision can do it, else 18.
"""

import copy
from dataclasses import dataclass

from ..errors import HpcmixError
from ..params import Param
from ..precision import FieldPrecision, resolve
from ..registry import get_registry

MIXED_PARAMS = {
    "sloppy": Param(str, "same", "precision of the inner iterations (QUDA cuda_prec_sloppy); 'same' = precision"),
    "precision_preconditioner": Param(str, "sloppy", "precision of a preconditioner's operator (QUDA "
                                      "cuda_prec_precondition); 'sloppy' = the sloppy precision"),
    "eigensolver": Param(str, "same", "precision of a deflation eigensolver (QUDA cuda_prec_eigensolver); "
                         "'same' = precision"),
    "reconstruct": Param(int, 18, "gauge-link compression of the outer operator (18, 12, 8)"),
    "reconstruct_sloppy": Param((int, str), "same", "link compression of the sloppy and preconditioner "
                                "operators; 'same' = reconstruct"),
    "reliable_delta": Param(float, 0.1, "replace the iterated residual by the true one when it has fallen by "
                            "this factor (QUDA reliable_delta)", check=lambda v: None if 0 <= v < 1 else
                            "must lie in [0, 1)"),
    "max_res_increase": Param(int, 1, "consecutive true-residual increases tolerated (QUDA max_res_increase)",
                              check=lambda v: None if v >= 0 else "must be >= 0"),
    "max_res_increase_total": Param(int, 10, "total true-residual increases tolerated (QUDA "
                                    "max_res_increase_total)", check=lambda v: None if v >= 0 else "must be >= 0"),
    "alternative_reliable": Param(bool, False, "van der Vorst-Ye residual replacement instead of reliable_delta "
                                  "(QUDA use_alternative_reliable; cg only)"),
    "fallback": Param(bool, True, "when the sloppy precision stops making progress, continue in the next "
                      "higher precision (reported as fallbacks)"),
}


class PrecisionKeyError(HpcmixError):
    """A precision or reconstruct key that cannot be resolved; ``key`` names it."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Precisions:
    """A solver's precisions resolved to registered field precisions, and its fallback chain
    (``chain[0]`` is ``sloppy``, the last entry ``outer``)."""

    outer: FieldPrecision
    sloppy: FieldPrecision
    preconditioner: FieldPrecision
    eigensolver: FieldPrecision
    reconstruct: int
    reconstruct_sloppy: int
    chain: tuple

    def reconstruct_for(self, precision):
        """The sloppy reconstruct where ``precision`` can do it, else 18."""
        return self.reconstruct_sloppy if self.reconstruct_sloppy in precision.reconstructs else 18


def _field(registry, key, name, reconstruct, reconstruct_key):
    """The field precision ``name`` (or a precision object) checked to do ``reconstruct``; errors name
    ``key`` or ``reconstruct_key``."""
    try:
        precision = name if isinstance(name, FieldPrecision) else resolve(registry, name)
    except HpcmixError as exc:
        raise PrecisionKeyError(key, str(exc)) from None
    try:
        precision.check_reconstruct(reconstruct)
    except HpcmixError as exc:
        raise PrecisionKeyError(reconstruct_key, str(exc)) from None
    return precision


def resolve_precisions(registry, cfg):
    """:class:`Precisions` from a solver's keys (names or precision objects); raises
    :class:`PrecisionKeyError` naming the key of an unknown precision, a reconstruct it cannot do, or a
    sloppy precision more precise than the outer one."""
    outer = _field(registry, "precision", cfg["precision"], cfg["reconstruct"], "reconstruct")
    rs = cfg["reconstruct"] if cfg["reconstruct_sloppy"] == "same" else cfg["reconstruct_sloppy"]
    if not isinstance(rs, int):
        raise PrecisionKeyError("reconstruct_sloppy", f"expected a reconstruct (18, 12, 8) or 'same', got {rs!r}")
    sloppy = _field(registry, "sloppy", outer if cfg["sloppy"] == "same" else cfg["sloppy"], rs,
                    "reconstruct_sloppy")
    if sloppy.unit_roundoff < outer.unit_roundoff:
        raise PrecisionKeyError("sloppy", f"sloppy precision '{sloppy.name}' is more precise than precision "
                                f"'{outer.name}'")
    pre = cfg["precision_preconditioner"]
    pre = _field(registry, "precision_preconditioner", sloppy if pre == "sloppy" else pre, rs,
                 "reconstruct_sloppy")
    eig = cfg["eigensolver"]
    eig = _field(registry, "eigensolver", outer if eig == "same" else eig, cfg["reconstruct"], "reconstruct")
    fields = [e.obj for e in registry.entries("precisions") if getattr(e.obj, "role", "field") == "field"]
    chain = [sloppy]
    while chain[-1] is not outer:
        finer = [p for p in fields if outer.unit_roundoff <= p.unit_roundoff <= chain[-1].unit_roundoff / 2]
        chain.append(max(finer, key=lambda p: p.unit_roundoff) if finer else outer)
    return Precisions(outer, sloppy, pre, eig, cfg["reconstruct"], rs, tuple(chain))


class MixedPrecision:
    """Mixin (listed before :class:`~hpcmix.solvers.base.Solver`) giving a solver the keys of
    :data:`MIXED_PARAMS`, their validation and resolution. ``registry`` resolves precision names
    (``make_solver`` passes the deck's; default: the built-ins and installed plugins)."""

    uses_registry = True
    alternative_reliable_supported = False

    def __init__(self, *, registry=None, **kw):
        for key, param in MIXED_PARAMS.items():
            kw.setdefault(key, param.default)
        super().__init__(**kw)
        self.registry = registry
        self._precisions = None

    @classmethod
    def validate_config(cls, cfg, registry):
        """(key, message) for precisions that cannot be resolved (:func:`resolve_precisions`), a ``tol``
        below 10 u of the outer precision (u its unit roundoff: the true residual, computed there,
        cannot resolve it), or a key this solver does not implement; None where the keys are fine."""
        try:
            precisions = resolve_precisions(registry, cfg)
        except PrecisionKeyError as exc:
            return exc.key, str(exc)
        outer = precisions.outer
        if cfg["tol"] < 10 * outer.unit_roundoff:
            return "tol", (f"tol = {cfg['tol']:g} is below 10 x the unit roundoff of precision '{outer.name}' "
                           f"(u = {outer.unit_roundoff:.3g}), which holds the solution and its true residual; "
                           f"use tol >= {10 * outer.unit_roundoff:.3g} or a finer precision")
        if cfg.get("alternative_reliable") and not cls.alternative_reliable_supported:
            return "alternative_reliable", f"solver '{cls.name}' has no van der Vorst-Ye residual replacement (cg has)"
        return None

    def precisions(self):
        """The resolved :class:`Precisions` (resolved once)."""
        if self._precisions is None:
            self._precisions = resolve_precisions(self.registry or get_registry(), self.__dict__)
        return self._precisions


def confined(solver, precision, reconstruct):
    """``solver`` for an inner solve (preconditioner, defect correction) on an operator stored in
    ``precision`` with ``reconstruct``: a copy working entirely in that precision (outer and sloppy)
    where the solver has mixed precisions; others work in their operator's precision as they are."""
    if not isinstance(solver, MixedPrecision):
        return solver
    inner = copy.copy(solver)
    inner.precision, inner.reconstruct = precision, reconstruct
    inner.sloppy = inner.reconstruct_sloppy = "same"
    inner._precisions = None
    return inner
