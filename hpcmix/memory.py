"""The memory a deck needs, estimated from the deck alone before any work: per rank, host and GPU.

A stage class may define ``memory(cfg, local_dims, registry) -> (working, kept)``: host bytes per rank,
``kept`` what its result holds for later stages (a gauge field, a propagator, eigenvectors) and
``working`` what it needs only while it runs (``local_dims`` is None for a deck without a lattice);
``memory_rank0(cfg, dims, local_dims, registry)``: the bytes rank 0 holds beyond the stage's working and
kept bytes (a gather of the whole lattice of extents ``dims``, a dense system it alone solves);
``memory_key(cfg, registry)``: the key a refusal names. While a stage runs a rank holds what earlier
stages keep plus the stage's working and kept bytes; the estimate per rank is the peak of that over the
stages. A node running n ranks, rank 0 among them, needs n times that plus rank 0's extra of the same
stage. A stage that defines no ``memory`` counts as 0 (the table says so).

``hpcmix run`` refuses a deck (exit 2, before any work, on every rank) whose node peak exceeds the node's
available memory (``MemAvailable`` of /proc/meminfo); ``HPCMIX_IGNORE_MEMORY=1`` runs it anyway. A backend
whose fields live on a GPU (``device_memory``: cupy) holds a stage's working set there (the solver's
fields and links; canonical arrays stay on the host, which still counts them all): the GPU column is the
largest working set of a stage, reported for the user to hold against the GPU's memory (the GPU is not
known before the backend loads); on host backends it is 0.

The formulas count the large arrays only, in bytes per local site (V sites per rank, V/2 per half-lattice
field); the interpreter, libraries and compiled kernels (about 200 MiB per rank) are not counted.
"""

import math
import os
from dataclasses import dataclass, field

from .errors import DeckError
from .precision import resolve

IGNORE = "HPCMIX_IGNORE_MEMORY"
COMPLEX = 16                    # bytes of a complex128 number
GAUGE = 4 * 9 * COMPLEX         # a canonical gauge field's bytes per site: U[t, z, y, x, 4, 3, 3] complex128


# ---- formulas: bytes per rank of the arrays stages allocate ------------------------------------------
def complex_sites(field_shape):
    """Complex numbers per site of a field of ``field_shape`` (12 for Wilson, 3 for staggered)."""
    return math.prod(field_shape)


def half_field(precision, sites, field_shape):
    """One half-lattice field (``sites`` / 2) stored in ``precision``: components plus a norm per site."""
    per_site = 2 * complex_sites(field_shape) * precision.storage_dtype.itemsize
    per_site += precision.norm_dtype.itemsize if precision.has_norm else 0
    return sites // 2 * per_site


def canonical_dirac(op_kind, op_cfg, sites):
    """The Dirac operator on canonical arrays (double, built once per stage): three copies of the links
    (phased, transposed, conjugated; staggered: the links and the columns of W and W^dag, twice for
    asqtad's fat and Naik links) and, where it has a clover term, the 12x12 site matrix and its inverse."""
    links = 3 * GAUGE * (2 if getattr(op_kind, "reconstructs", None) == (18,) else 1)
    clover = 2 * 144 * COMPLEX if "csw" in op_cfg else 0
    return sites * (links + clover)


def row_links(op_kind, sites, precision, reconstruct=18):
    """Links in the backend's row layout in ``precision``: 8 directions (16 with asqtad's Naik term)
    of ``reconstruct`` reals each in the storage type, and (not asqtad) 8 real phases per site. Building
    them holds their canonical copies too: twice this, briefly."""
    if getattr(op_kind, "reconstructs", None) == (18,):
        return sites * 16 * 18 * precision.storage_dtype.itemsize
    return sites * 8 * (reconstruct * precision.storage_dtype.itemsize + precision.real_dtype.itemsize)


def backend_operator(op_kind, op_cfg, sites, precision, reconstruct=18):
    """The operator on the backend's even-odd fields in ``precision``: its :func:`row_links` and the
    clover term's chiral blocks (144 reals per site in the real type) of the four site matrices an
    even-odd normal solve applies (A_ee, A_oo^-1 and their adjoints), on half the sites each."""
    blocks = 4 * (sites // 2) * 144 * precision.real_dtype.itemsize if "csw" in op_cfg else 0
    return row_links(op_kind, sites, precision, reconstruct) + blocks


def operator_views(registry, cfg):
    """The (precision, reconstruct) pairs a solver (its deck table) applies the operator in: double with
    18 (the backend fields every solve starts from), the outer, the sloppy and a nested preconditioner's."""
    outer, rec = cfg.get("precision", "double"), cfg.get("reconstruct", 18)
    sloppy = outer if cfg.get("sloppy", "same") == "same" else cfg["sloppy"]
    rec_sloppy = rec if cfg.get("reconstruct_sloppy", "same") == "same" else cfg["reconstruct_sloppy"]
    views = {("double", 18), (outer, rec), (sloppy, rec_sloppy)}
    if isinstance(cfg.get("preconditioner"), dict):
        pre = cfg.get("precision_preconditioner", "sloppy")
        views.add((sloppy if pre == "sloppy" else pre, rec_sloppy))
    return {(resolve(registry, name), r) for name, r in views}


def solver_fields(registry, cfg, sites, field_shape, parities=1):
    """The fields a solver (its deck table) keeps while it solves, in bytes: 6 half-lattice fields in
    the outer precision (right-hand side, solution, true residual, operator temporaries) and 8 in the
    sloppy one (iterated residual, search directions, operator products, temporaries); GCR adds 2
    ``nkrylov`` sloppy fields, GMRES-DR its basis V (and Z = K V with a preconditioner: n_kr + 1 each) in
    ``precision_basis``, eigCG its search space (``search_dim``, eigensolver precision) and the deflation
    space it builds (``n_ev`` x ``rhs_for_eigcg``, outer precision); a nested preconditioner adds its own,
    multigrid its levels (:func:`multigrid_levels`). ``parities`` = 2: the solver works on whole-lattice
    fields (two half-lattice fields each)."""
    outer = resolve(registry, cfg.get("precision", "double"))
    sloppy = outer if cfg.get("sloppy", "same") == "same" else resolve(registry, cfg["sloppy"])
    eig = outer if cfg.get("eigensolver", "same") == "same" else resolve(registry, cfg["eigensolver"])
    kind, n_outer, n_sloppy, more = cfg["kind"], 6, 8, 0
    if kind == "gcr":
        n_sloppy += 2 * cfg.get("nkrylov", 16)
    elif kind == "gmresdr":
        basis = cfg.get("precision_basis", "sloppy")
        basis = sloppy if basis == "sloppy" else resolve(registry, basis)
        nested = isinstance(cfg.get("preconditioner"), dict)
        more = (2 if nested else 1) * (cfg.get("n_kr", 24) + 1) * parities * half_field(basis, sites, field_shape)
    elif kind == "eigcg":
        more = cfg.get("search_dim", 64) * parities * half_field(eig, sites, field_shape)
        n_outer += cfg.get("n_ev", 8) * cfg.get("rhs_for_eigcg", 8)
    elif kind == "multigrid":
        more = multigrid_levels(registry, cfg, sites, field_shape)
    inner = cfg.get("preconditioner")
    if isinstance(inner, dict) and "kind" in inner:
        more += solver_fields(registry, inner, sites, field_shape, parities)
    return parities * (n_outer * half_field(outer, sites, field_shape) + n_sloppy * half_field(sloppy, sites,
                                                                                                 field_shape)) + more


def multigrid_levels(registry, cfg, sites, field_shape):
    """Adaptive multigrid, per level (``block``, ``n_vec``): the near-null vectors and the block-
    orthonormalized prolongator (2 ``n_vec`` canonical complex128 fields of the finer grid, and the K-cycle's
    complex64 copy of the prolongator below double; on the finest level also the prolongator in the row layout,
    ``n_vec`` fields, in double while the Galerkin product is computed), the coarse stencil (9 matrices of (2 n_vec)^2 per coarse
    site in complex128, and as stored in ``coarse_precision``, with a float32 norm per row in fixed point) and the
    coarse GCR's 2 ``coarse_nkrylov`` + 8 vectors in ``coarse_precision``'s compute dtype."""
    precision = resolve(registry, cfg.get("coarse_precision", "single"))
    coarse = precision.real_dtype.itemsize * 2
    stored = precision.storage_dtype.itemsize * 2
    dof, total, finest = complex_sites(field_shape), 0, True
    for level in cfg.get("levels", [{"block": [4, 4, 4, 4], "n_vec": 24}]):
        n_vec = level.get("n_vec", 24)
        coarse_sites = max(1, sites // max(1, math.prod(level.get("block", [4, 4, 4, 4]))))
        total += 2 * n_vec * sites * dof * COMPLEX + (n_vec * sites * dof * coarse if coarse < COMPLEX else 0)
        total += n_vec * sites * dof * COMPLEX if finest else 0
        finest = False
        rows = coarse_sites * 9 * 2 * n_vec
        total += rows * 2 * n_vec * (COMPLEX + stored) + (4 * rows if precision.has_norm else 0)
        total += (2 * cfg.get("coarse_nkrylov", 16) + 8) * coarse_sites * 2 * n_vec * coarse
        sites, dof = coarse_sites, 2 * n_vec
    return total


# ---- the estimate of a deck ----------------------------------------------------------------------
@dataclass
class StageMemory:
    """One stage's bytes per rank (``declared`` False: its class states no memory; counted as 0)."""
    name: str
    kind: str
    working: int = 0
    kept: int = 0
    rank0: int = 0
    declared: bool = True
    key: str = None


@dataclass
class Estimate:
    """The deck's stages, in order, and the node they run on."""
    stages: list = field(default_factory=list)
    ranks_per_node: int = 1
    available: int = 0              # bytes the node has available (0: unknown)
    backend: str = ""
    device_memory: bool = False     # the backend keeps lattice fields on a GPU

    @property
    def gpu(self):
        """Bytes per rank on its GPU: the largest working set of a stage (0 on host backends)."""
        return max((s.working for s in self.stages), default=0) if self.device_memory else 0

    def per_rank(self):
        """Bytes per rank while each stage runs: kept by earlier stages + this stage's working and kept."""
        out, kept = [], 0
        for s in self.stages:
            out.append(kept + s.working + s.kept)
            kept += s.kept
        return out

    @property
    def peak(self):
        """The largest of :meth:`per_rank`."""
        return max(self.per_rank(), default=0)

    @property
    def rank0(self):
        """Rank 0's largest extra over the stages."""
        return max((s.rank0 for s in self.stages), default=0)

    def node(self):
        """(bytes the node needs at its peak, the stage of that peak)."""
        totals = [(n * self.ranks_per_node + s.rank0, s) for n, s in zip(self.per_rank(), self.stages)]
        return max(totals, key=lambda t: t[0], default=(0, None))

    def fits(self):
        """Whether the node's peak fits in its available memory (an unknown amount fits anything)."""
        return not self.available or self.node()[0] <= self.available


def estimate(deck, ranks_per_node=1, available_bytes=None):
    """The :class:`Estimate` of a validated deck for ``ranks_per_node`` ranks on a node with
    ``available_bytes`` (default: this node's :func:`available`)."""
    local = None if deck.dims is None else [d // g for d, g in zip(deck.dims, deck.grid)]
    backend = deck.registry.lookup("backends", deck.run["backend"])
    out = Estimate(ranks_per_node=ranks_per_node, backend=deck.run["backend"],
                   device_memory=getattr(backend, "device_memory", False),
                   available=available() if available_bytes is None else available_bytes)
    for spec in deck.stages:
        s = StageMemory(spec.name, spec.kind)
        memory = getattr(spec.cls, "memory", None)
        if memory is None:
            s.declared = False
        else:
            s.working, s.kept = (int(b) for b in memory(spec.cfg, local, deck.registry))
            rank0 = getattr(spec.cls, "memory_rank0", None)
            s.rank0 = int(rank0(spec.cfg, deck.dims, local, deck.registry)) if rank0 is not None else 0
            key = getattr(spec.cls, "memory_key", None)
            s.key = key(spec.cfg, deck.registry) if key is not None else None
        out.stages.append(s)
    return out


def available():
    """Bytes of memory this node has available (MemAvailable of /proc/meminfo; else its physical
    memory; 0 where the platform says neither)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def size(b):
    """Bytes as a short human string (binary units)."""
    for unit, scale in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b} B"


def table(est):
    """The estimate as lines of text: per stage working, kept and the per-rank total; the peak; the
    node's need against its available memory; the GPU column."""
    lines = [f"memory estimate per rank (host; {est.ranks_per_node} rank(s) per node):",
             f"  {'stage':<16} {'kind':<16} {'working':>11} {'kept':>11} {'rank total':>11} {'rank 0 extra':>13}"]
    for s, total in zip(est.stages, est.per_rank()):
        if not s.declared:
            lines.append(f"  {s.name:<16} {s.kind:<16} {'(not declared by the stage: counted as 0)':>49}")
            continue
        lines.append(f"  {s.name:<16} {s.kind:<16} {size(s.working):>11} {size(s.kept):>11} {size(total):>11} "
                     f"{size(s.rank0) if s.rank0 else '-':>13}")
    need, at = est.node()
    lines.append(f"  peak per rank {size(est.peak)}; rank 0 extra {size(est.rank0)}; node: {est.ranks_per_node} x "
                 f"peak + rank 0 extra = {size(need)}" + (f" (at stage '{at.name}')" if at else ""))
    lines.append(f"  available on this node: {size(est.available) if est.available else 'unknown'} (MemAvailable)"
                 + ("" if est.fits() else ": DOES NOT FIT"))
    if est.device_memory:
        lines.append(f"  GPU: {size(est.gpu)} per rank (backend '{est.backend}' keeps each stage's solver fields and "
                     f"links on the rank's GPU: the largest working set)")
    else:
        lines.append(f"  GPU: 0 (backend '{est.backend}' keeps every lattice field in host memory)")
    return lines


def problem(est, file=None):
    """The DeckError a run that does not fit gets (naming ``file``, the stage of the node's peak and the
    stage's ``memory_key``), else None."""
    if est.fits():
        return None
    need, at = est.node()
    extra = f" + rank 0's {size(at.rank0)}" if at.rank0 else ""
    return DeckError(f"the run needs about {size(need)} of memory on this node at its peak, in this stage "
                     f"({est.ranks_per_node} rank(s) x {size((need - at.rank0) // est.ranks_per_node)}{extra}), but "
                     f"the node has {size(est.available)} available (MemAvailable); use more nodes or fewer ranks "
                     f"per node or a smaller problem, or set {IGNORE}=1 to run anyway", file=file, stage=at.name,
                     key=at.key)


def refuse_if_too_big(deck, comm, ranks_per_node):
    """Before any work, on every rank: raise one DeckError, the same on every rank, where the deck does not
    fit in the available memory of some rank's node (``ranks_per_node``: the ranks on this rank's node),
    unless ``HPCMIX_IGNORE_MEMORY=1``."""
    if os.environ.get(IGNORE, "") not in ("", "0"):
        return
    error = problem(estimate(deck, ranks_per_node), deck.path)
    first = next((m for m in comm.allgather(None if error is None else str(error)) if m is not None), None)
    if first is not None:
        raise DeckError(first)
