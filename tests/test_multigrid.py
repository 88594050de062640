"""Adaptive multigrid (hpcmix.solvers.multigrid): QUDA's verify checks of the transfer and the coarse operator, and
the K-cycle as GCR's preconditioner.

Truth: the blocks against explicit index arithmetic; P^dag P = 1 and (1 - P P^dag) v_k = 0 for every null vector;
the stencil coarse operator against P^dag A P applied explicitly with the backend's fine operator (double 1e-12,
single 1e-5) and, as a dense matrix, against P^dag M P with M the canonical numpy reference operator (an
independent implementation); gamma5-hermiticity of the dense coarse matrix; the third level against the Galerkin
product of the second; MG-GCR's true residual recomputed by the reference operator; the coarsest level's dense
matrix against the stencil applied to unit vectors, and its LU solve against GCR's. The lattice [6, 4, 2, 4]
with blocks [2, 2, 2, 2] has coarse extents 3, 2, 1, 2, so periodic wrap onto the same and onto the
neighbouring coarse site are both covered, with non-trivial boundary phases in y and t.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from hpcmix.backends import reference
from hpcmix.backends.kernels import aggregate
from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.errors import DeckError, HpcmixError
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.params import Validator
from hpcmix.precision import DOUBLE, HALF, SINGLE
from hpcmix.registry import get_registry
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.multigrid import Hierarchy, Multigrid, Transfer
from hpcmix.solvers.multigrid.blocks import Blocking
from hpcmix.solvers.multigrid.coarse import pack, unpack
from hpcmix.solvers.multigrid.coarsest import LU_MAX_DOF, DenseCoarsest, dense_matrix
from hpcmix.solvers.multigrid.levels import WilsonLevel
from hpcmix.solvers.multigrid.nullspace import near_null_vectors, random_vector
from hpcmix.solvers.multigrid.smoother import SMOOTHERS, EvenOddSmoother, GCRSmoother, mr_smooth

from lattice_helpers import global_random

DIMS, BLOCK, NVEC = [6, 4, 2, 4], [2, 2, 2, 2], 6
BOUNDARY = (1, -1, 1, -1)


@pytest.fixture(scope="module")
def gauge():
    return GaugeField.weak(Lattice(DIMS), 5, 0.4)


def dirac(gauge, csw):
    return WilsonDirac(gauge, 0.1, boundary=BOUNDARY, csw=csw)


@pytest.fixture(scope="module", params=[0.0, 1.0], ids=["wilson", "clover"])
def setup(request, gauge, backend):
    """(reference dirac, three-level hierarchy) for Wilson and clover."""
    d = dirac(gauge, request.param)
    levels = [{"block": BLOCK, "n_vec": NVEC}, {"block": [3, 1, 1, 1], "n_vec": 4}]
    return d, Hierarchy(d.on_backend(backend), levels, BiCGstab(tol=1e-6, maxiter=8), seed=2)


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def coarse_random(level, seed):
    lat = level.coarse.lattice
    return lat.scatter(global_random(lat.global_shape + (level.coarse.dofs,), seed))


def dense(apply, shape):
    """The matrix of ``apply`` on arrays of ``shape`` (columns: unit vectors in C order)."""
    n = int(np.prod(shape))
    cols = []
    for j in range(n):
        e = np.zeros(n, dtype=np.complex128)
        e[j] = 1
        cols.append(np.asarray(apply(e.reshape(shape))).ravel())
    return np.stack(cols, axis=1)


# ---- blocks ---------------------------------------------------------------------------------------
def test_block_that_does_not_divide_is_an_error_naming_the_level():
    with pytest.raises(DeckError, match=r"level 1: block \[4, 2, 2, 2\] does not divide .*x: 6 % 4 = 2") as info:
        Blocking(Lattice(DIMS), [4, 2, 2, 2], 12, level=1)
    assert info.value.key == "levels[1].block"


def test_blocks_hold_sites_and_chiralities_where_the_index_arithmetic_says():
    lat = Lattice(DIMS)
    blocking = Blocking(lat, [3, 2, 1, 2], 12)
    a = global_random(lat.shape + (12,), 4)
    b = blocking.to_blocks(a)
    assert b.shape == (2, 2, 2, 2, 2, 12 * 12 // 2)              # 12 block sites x 6 dofs of one chirality
    t, z, y, x, spin, colour = 3, 1, 2, 4, 2, 1                       # spin 2: chirality -1 in DeGrand-Rossi
    within = ((t % 2) * 1 * 2 + (z % 1) * 2 + (y % 2)) * 3 + x % 3     # block site t, z, y, x (x fastest)
    got = b[t // 2, z // 1, y // 2, x // 3, 1, within * 6 + (spin - 2) * 3 + colour]
    assert got == a[t, z, y, x, 3 * spin + colour]
    assert np.array_equal(blocking.from_blocks(b), a)


# ---- transfer -------------------------------------------------------------------------------------
def test_restrictor_times_prolongator_is_one(setup):
    _, h = setup
    for level in h.levels:
        c = coarse_random(level, 6)
        assert rel(level.transfer.restrict(level.transfer.prolong(c)), c) < 1e-14
        p = dense(level.transfer.prolong, c.shape)
        assert np.abs(p.conj().T @ p - np.eye(p.shape[1])).max() < 1e-13


def test_null_vectors_lie_in_the_prolongator_range(setup):
    """(1 - P P^dag) v_k = 0 for every null vector v_k (recomputed: the same seed gives the same vectors)."""
    _, h = setup
    for i, level in enumerate(h.levels):
        vectors, _ = near_null_vectors(level.fine, level.transfer.n_vec, BiCGstab(tol=1e-6, maxiter=8), 2, i)
        for v in vectors:
            assert rel(level.transfer.prolong(level.transfer.restrict(v)), v) < 1e-12


def test_transfer_from_its_basis_and_from_its_vectors(setup):
    """A saved basis gives the same P bit for bit; the vectors a refresh starts from span P's range, so P built
    from them again is the same projector."""
    _, h = setup
    for level in h.levels:
        t = level.transfer
        c = coarse_random(level, 11)
        assert np.array_equal(Transfer.from_basis(t.blocking, t.basis).prolong(c), t.prolong(c))
        again = Transfer(t.blocking, list(t.vectors()))
        f = t.prolong(c)
        assert rel(again.prolong(again.restrict(f)), f) < 1e-13


@pytest.mark.parametrize("block, specialize", [([2, 2, 2, 2], False), ([3, 2, 1, 2], False), ([2, 2, 2, 2], True)],
                         ids=["even-bx", "odd-bx", "sizes-as-constants"])
def test_row_layout_transfer_equals_the_canonical_one(gauge, backend, block, specialize, monkeypatch):
    """P^dag x and P c on the backend's row-layout fields (the aggregate kernels) equal the canonical Transfer's
    on the same fields: a basis in double to 1e-14 and in single to 1e-6 (its rounding), for fields in double,
    single and half (the half field's own rounding, 1e-4, on top); blocks of odd x extent put a block boundary
    inside a lane pair, differently in rows of each parity; the kernels generated with the sizes as constants
    (what large lattices get) too."""
    if specialize:
        if not isinstance(backend, NumbaBackend):
            pytest.skip("the sizes are constants of numba's generated kernels only")
        monkeypatch.setattr(aggregate, "SPECIALIZE_SITES", 1)
    fields = dirac(gauge, 0.0).on_backend(backend)
    level, sp = WilsonLevel(fields), fields.operator().space
    blocking = Blocking(gauge.lattice, block, 12)
    vectors = [global_random(gauge.lattice.shape + (12,), 20 + k) for k in range(NVEC)]
    canonical = Transfer(blocking, vectors)
    x = fields.import_field(global_random(gauge.lattice.shape + (4, 3), 30))
    c = global_random(blocking.coarse_shape + (2 * NVEC,), 31)
    for basis, tol in ((DOUBLE, 1e-14), (SINGLE, 1e-6)):
        t = canonical.at(basis)
        for field, extra in ((DOUBLE, 0), (SINGLE, 1e-7), (HALF, 1e-4)):
            xp = x if field is DOUBLE else sp.convert(x, field)
            assert rel(level.restrict(t, xp), t.restrict(level.to_array(xp))) < tol + extra
            p = level.to_array(level.prolong(t, c.astype(t.basis.dtype), sp, field))
            assert rel(p, t.prolong(c)) < tol + extra
            assert level.prolong(t, c, sp, field)[0].precision is field


def test_basis_is_gram_schmidt_in_order_and_dependent_vectors_are_an_error(setup):
    """On one block and chirality the basis is Gram-Schmidt of the vectors taken in order (explicitly, in
    complex128 on the block's pieces); a vector in the span of the earlier ones is an error naming the level."""
    _, h = setup
    t = h.levels[0].transfer
    vectors = list(t.vectors())
    mixed = [v + 0.5 * vectors[0] for v in vectors]                  # a non-orthogonal start, same span
    pieces = t.blocking.to_blocks(np.stack(mixed, axis=-1))[0, 0, 0, 0, 1]   # [block_dofs, n]: one block, chirality -1
    q = []
    for a in pieces.T:
        for b in q:
            a = a - np.vdot(b, a) * b
        q.append(a / np.linalg.norm(a))
    assert np.abs(Transfer(t.blocking, mixed).basis[0, 0, 0, 0, 1] - np.array(q)).max() < 1e-12
    with pytest.raises(HpcmixError, match="level 0: null vector 3 is linearly dependent"):
        Transfer(t.blocking, vectors[:3] + [vectors[1] - 2j * vectors[2]])


def test_even_odd_relaxation_gives_near_null_vectors_of_M(critical, backend):
    """The finest level relaxes on the Schur system and reconstructs: M v vanishes on the odd sites, and
    |M v| / |M x0| has fallen to the relaxation's tolerance (reference operator)."""
    d, _ = critical
    level = WilsonLevel(d.on_backend(backend))
    x0 = random_vector(d.lattice, 12, 3)
    v, iterations = level.relax(BiCGstab(tol=1e-3, maxiter=100), level.from_array(x0))
    mv = d.M(level.to_array(v).reshape(d.lattice.shape + (4, 3)))
    odd = d.parity_mask(1)
    assert iterations > 0
    assert np.linalg.norm(mv * odd) < 1e-13 * np.linalg.norm(mv)
    assert np.linalg.norm(mv) < 2e-3 * np.linalg.norm(d.M(x0.reshape(mv.shape)))


def test_prolongator_keeps_chirality(setup):
    _, h = setup
    level = h.levels[0]
    c = coarse_random(level, 7)
    c[..., NVEC:] = 0                                                  # chirality +1 only
    fine = level.transfer.prolong(c).reshape(Lattice(DIMS).shape + (4, 3))
    assert np.abs(fine[..., 2:, :]).max() == 0 and np.abs(fine[..., :2, :]).max() > 0


# ---- coarse operator ------------------------------------------------------------------------------
@pytest.mark.parametrize("precision,tol", [(DOUBLE, 1e-12), (SINGLE, 1e-5), (HALF, 5e-2)],
                         ids=["double", "single", "half"])
def test_stencil_equals_galerkin_product(setup, precision, tol):
    """D_c c = P^dag A P c with A the backend's fine operator (level 1) and D_c of level 1 (level 2)."""
    _, h = setup
    for level in h.levels:
        c = coarse_random(level, 8)
        fine = level.fine
        explicit = level.transfer.restrict(fine.to_array(fine.operator(fine.from_array(level.transfer.prolong(c)))))
        got = level.coarse.at(precision)(c)
        assert got.dtype == precision.compute_dtype
        assert rel(got, explicit) < tol


def test_dense_coarse_matrix_matches_reference_operator(setup):
    """The dense matrix of the stencil D_c equals P^dag M P with M the canonical numpy operator."""
    d, h = setup
    level = h.levels[0]
    shape = level.coarse.lattice.shape + (level.coarse.dofs,)
    lat = d.lattice
    p = dense(level.transfer.prolong, shape)                                          # [fine dofs, coarse dofs]
    mp = np.stack([d.M(col.reshape(lat.shape + (4, 3))).ravel() for col in p.T], axis=1)
    assert rel(dense(level.coarse, shape), p.conj().T @ mp) < 1e-12


def test_coarse_operator_is_gamma5_hermitian(setup):
    """D_c^dag = G5 D_c G5 with G5 = diag(+1 x n_vec, -1 x n_vec), and the adjoint stencil is D_c^dag."""
    _, h = setup
    for level in h.levels:
        op = level.coarse
        shape = op.lattice.shape + (op.dofs,)
        dc = dense(op, shape)
        g5 = np.diag(np.tile(np.repeat([1.0, -1.0], op.dofs // 2), int(np.prod(shape[:4]))))
        assert rel(g5 @ dc @ g5, dc.conj().T) < 1e-12
        assert rel(dense(op.adjoint(), shape), dc.conj().T) < 1e-14
        for low, tol in ((SINGLE, 1e-6), (HALF, 2e-4)):   # the adjoint of the stored operator, to the rounding
            view = op.at(low)                              # of float32 sums and of the output's storage
            assert rel(dense(view.adjoint(), shape), dense(view, shape).conj().T) < tol


# ---- the K-cycle as GCR's preconditioner --------------------------------------------------------------
def true_residual(d, fields, b, x):
    """|b - M x| / |b| with the canonical reference operator M."""
    return np.linalg.norm(b - d.M(fields.export_field(x))) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def critical():
    """A weak field on 4^3 x 8 with light quarks (plain GCR needs about 120 iterations), clover, a random source."""
    lat = Lattice([4, 4, 4, 8])
    d = WilsonDirac(GaugeField.weak(lat, 9, 0.5), kappa_to_mass(0.15), csw=1.0)
    return d, global_random(lat.shape + (4, 3), 10)


TWO = [{"block": [2, 2, 2, 2], "n_vec": 8}]
THREE = TWO + [{"block": [2, 2, 2, 2], "n_vec": 6}]


@pytest.mark.parametrize("levels,smoother,kind", [(TWO, "evenodd", "mr"), (TWO, "full", "mr"), (THREE, "evenodd", "mr"),
                                                 (TWO, "evenodd", "gcr"), (THREE, "full", "gcr")],
                         ids=["2level", "2level-full-smoother", "3level", "2level-gcr", "3level-full-gcr"])
def test_multigrid_gcr_converges_in_few_iterations(critical, backend, levels, smoother, kind):
    d, b = critical
    f = d.on_backend(backend)
    B = f.import_field(b)
    plain = GCR(tol=1e-10, nkrylov=16, maxiter=2000).solve(f.operator(), B)
    mg = Multigrid(levels=levels, smoother=smoother, smoother_kind=kind, setup_maxiter=30)
    mg.setup(f)
    res = GCR(tol=1e-10, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), B)
    assert res.converged and true_residual(d, f, b, res.x) <= 1e-10
    assert plain.converged and res.iterations * 4 < plain.iterations, (res.iterations, plain.iterations)
    assert mg.hierarchy.levels[0].stats["cycles"] == res.iterations


def test_coarse_storage_sizes(setup):
    """nbytes counts what the stencil kernel reads: int16 pairs and a float32 norm per matrix row in half."""
    _, h = setup
    coarse = h.levels[0].coarse
    entries = 9 * coarse.X.size
    assert coarse.nbytes() == 16 * entries and coarse.at(SINGLE).nbytes() == 8 * entries
    assert coarse.at(HALF).nbytes() == 4 * entries + 4 * entries // coarse.dofs
    for precision, dtype in ((SINGLE, np.float32), (HALF, np.int16)):
        m, norm = coarse.at(precision)._packed
        assert m.dtype == dtype and m.nbytes + (0 if norm is None else norm.nbytes) == coarse.at(precision).nbytes()


@pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba does not load here")
@pytest.mark.parametrize("precision,tol", [(DOUBLE, 1e-14), (SINGLE, 2e-6), (HALF, 2e-6)], ids=lambda v: str(v))
def test_coarse_stencil_kernel_equals_complex_products(precision, tol):
    """The numba and numpy ``coarse_stencil`` kernels against sum_d A_d v_d in complex128 from the stored values
    (pack / unpack), on random matrices with rows of very different sizes (the fixed-point row norms)."""
    rng = np.random.default_rng(4)
    S, N = 7, 10
    X, Y = (rng.standard_normal((S, N, N)) + 1j * rng.standard_normal((S, N, N))) * np.logspace(-3, 2, N)[:, None], [
        [rng.standard_normal((S, N, N)) + 1j * rng.standard_normal((S, N, N)) for _ in range(2)] for _ in range(4)]
    m, norm = pack(X, Y, precision)
    sx, sy = unpack(m, norm, precision, (S,))
    real = np.float64 if precision is DOUBLE else np.float32
    v = rng.standard_normal((9, S, 2, N)).astype(real)
    c = (v[:, :, 0] + 1j * v[:, :, 1]).astype(np.complex128)
    want = np.einsum("sij,sj->si", sx, c[0]) + sum(np.einsum("sij,sj->si", sy[mu][i], c[1 + 2 * mu + i])
                                                   for mu in range(4) for i in range(2))
    for kernel in (reference.coarse_stencil, NumbaBackend().kernel("coarse_stencil")):
        out = np.empty((S, 2, N), real)
        kernel(out, m, norm, v)
        assert rel(out[:, 0] + 1j * out[:, 1], want) < tol


@pytest.mark.parametrize("coarse_precision", ["double", "half"])
def test_multigrid_with_coarse_levels_in_other_precisions(critical, backend, coarse_precision):
    d, b = critical
    f = d.on_backend(backend)
    B = f.import_field(b)
    mg = Multigrid(levels=TWO, coarse_precision=coarse_precision)
    mg.setup(f)
    res = GCR(tol=1e-10, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), B)
    assert res.converged and true_residual(d, f, b, res.x) <= 1e-10 and res.iterations < 30


@pytest.mark.parametrize("null_precision", ["single", "half"])
def test_null_vectors_relaxed_in_lower_precision_precondition_as_well(critical, backend, null_precision):
    """``null_precision``: the setup's BiCGstab runs its sloppy iterations in single or half (reliable
    updates in double); the null vectors differ from double's, and precondition about as well."""
    d, b = critical
    f = d.on_backend(backend)
    B = f.import_field(b)
    its, nulls = [], []
    for precision in ("double", null_precision):
        mg = Multigrid(levels=TWO, setup_maxiter=30, null_precision=precision)
        mg.setup(f)
        res = GCR(tol=1e-10, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), B)
        assert res.converged and true_residual(d, f, b, res.x) <= 1e-10
        its.append(res.iterations)
        nulls.append(mg.hierarchy.levels[0].transfer.basis)
    assert not np.array_equal(nulls[0], nulls[1])
    assert its[1] <= its[0] + 3, its


def test_multigrid_in_single_precision_under_double_gcr(critical, backend):
    """GCR in double with a single-precision preconditioner: the K-cycle runs on the single fine operator."""
    d, b = critical
    f = d.on_backend(backend)
    B = f.import_field(b)
    mg = Multigrid(levels=[{"block": [2, 2, 2, 2], "n_vec": 8}], setup_maxiter=30)
    mg.setup(f)
    double = GCR(tol=1e-10, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), B)
    mixed = GCR(tol=1e-10, nkrylov=16, maxiter=200, sloppy="single", preconditioner=mg).solve(f.operator(), B)
    assert mixed.converged and true_residual(d, f, b, mixed.x) <= 1e-10
    assert mixed.iterations <= double.iterations + 3


def test_multigrid_needs_wilson_fields(critical):
    d, _ = critical
    with pytest.raises(Exception, match="needs a Wilson or Wilson-clover operator on backend fields"):
        Multigrid(levels=TWO).setup(d)


def test_multigrid_without_setup_says_so(critical, backend):
    d, b = critical
    f = d.on_backend(backend)
    with pytest.raises(Exception, match="call setup"):
        GCR(preconditioner=Multigrid()).solve(f.operator(), f.import_field(b))


@pytest.mark.parametrize("steps", ["mr", "gcr"])
@pytest.mark.parametrize("kind", ["evenodd", "full"])
def test_smoothers_keep_the_true_residual(critical, backend, kind, steps):
    """After a smoothing pass from e = 0, s = r, the residual the smoother hands on is r - M e (the even-odd
    smoother's is its iterated Schur residual on even sites and 0 on odd ones), and it has shrunk."""
    d, b = critical
    f = d.on_backend(backend)
    op = f.operator()
    r = f.import_field(b)
    e, s = op.space.zeros_like(r), op.space.copy(r)
    smooth = EvenOddSmoother(f, SMOOTHERS[steps]()) if kind == "evenodd" else SMOOTHERS[steps]()
    smooth(op, e, s, 3, 0.85)
    expected = b - d.M(f.export_field(e))
    assert rel(f.export_field(s), expected) < 1e-12
    assert np.linalg.norm(expected) < 0.9 * np.linalg.norm(b)


@pytest.mark.parametrize("steps", [1, 3, 6])
def test_gcr_smoothing_is_the_minimal_residual_over_its_krylov_space(setup, steps):
    """k GCR steps on the coarse operator leave the residual of least norm over s + A K_k(A, s) (dense least
    squares on the Krylov basis), with e consistent with it (s_k = s - A e); one step is MR without
    over-relaxation, and more steps never leave a larger residual."""
    _, h = setup
    op = h.levels[0].coarse
    r = coarse_random(h.levels[0], 21)
    e, s = np.zeros_like(r), r.copy()
    assert GCRSmoother()(op, e, s, steps) == steps
    K = [r]
    for _ in range(steps - 1):
        K.append(op(K[-1]))
    AK = np.stack([op(v).ravel() for v in K], axis=1)
    y = np.linalg.lstsq(AK, r.ravel(), rcond=None)[0]
    best = r.ravel() - AK @ y
    assert rel(s.ravel(), best) < 1e-8
    assert rel(s, r - op(e)) < 1e-12
    e_mr, s_mr = np.zeros_like(r), r.copy()
    mr_smooth(op, e_mr, s_mr, steps, 1.0)
    if steps == 1:
        assert rel(s, s_mr) < 1e-12
    assert np.linalg.norm(s) <= np.linalg.norm(s_mr) * (1 + 1e-12)


# ---- the coarsest level by the dense LU with iterative refinement -------------------------------------
def test_dense_coarsest_matrix_is_the_stencil(setup):
    """The gathered dense matrix equals the stencil applied to every unit vector (coarse extents 1 and 2: hops
    that land on the same site add up: summed in float32 by the single stencil), its LU solve is exact to
    double precision and, given a tolerance, reaches it against the dense matrix."""
    _, h = setup
    for level in h.levels:
        shape = level.coarse.lattice.shape + (level.coarse.dofs,)
        assert rel(dense_matrix(level.coarse), dense(level.coarse, shape)) < 1e-15
        op = level.coarse.at(SINGLE)
        A = dense_matrix(op)
        assert rel(A, dense(op, shape)) < 1e-6
        b = coarse_random(level, 9)
        res = DenseCoarsest(op).solve(op, b)
        assert res.converged and res.true_residual < 1e-13 and res.iterations >= 1
        assert rel(A @ res.x.ravel(), b.ravel()) < 1e-13
        for tol in (1e-2, 1e-5):                      # to a tolerance: refined on the stencil as far as asked
            res = DenseCoarsest(op, tol).solve(op, b)
            assert res.converged and res.iterations >= 1 and rel(A @ res.x.ravel(), b.ravel()) <= tol


def test_coarsest_lu_gives_the_gcr_solution(critical, backend):
    """3 levels (blocks [2, 2, 2, 2] twice, coarsest 1 x 1 x 1 x 2 sites of 12 dofs): the coarsest level by the
    fp32 LU + refinement or by GCR gives the same solution; the level stats say which and its time."""
    d, b = critical
    f = d.on_backend(backend)
    B = f.import_field(b)
    results, stats = {}, {}
    for coarsest in ("lu", "gcr"):
        mg = Multigrid(levels=THREE, setup_maxiter=30, coarsest=coarsest)
        mg.setup(f)
        results[coarsest] = GCR(tol=1e-10, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), B)
        stats[coarsest] = mg.hierarchy.levels[-1].stats
    x = {k: f.export_field(r.x) for k, r in results.items()}
    assert all(r.converged and true_residual(d, f, b, r.x) <= 1e-10 for r in results.values())
    assert np.abs(x["lu"] - x["gcr"]).max() <= 1e-8 * np.abs(x["gcr"]).max()
    lu = stats["lu"]
    assert lu["coarsest"] == "lu" and stats["gcr"]["coarsest"] == "gcr"
    assert lu["coarse_seconds"] > 0 and lu["coarsest_setup_seconds"] > 0 and lu["coarse_iterations"] >= lu["cycles"]
    assert results["lu"].iterations <= results["gcr"].iterations


def test_coarsest_auto_takes_the_lu_for_small_matrices():
    def op(sites, dofs):
        return SimpleNamespace(lattice=SimpleNamespace(volume=sites), dofs=dofs)

    mg = Multigrid()
    assert mg.coarsest_solver(op(LU_MAX_DOF // 48, 48)) == "lu"
    assert mg.coarsest_solver(op(LU_MAX_DOF // 48 + 1, 48)) == "gcr"
    assert Multigrid(coarsest="lu").coarsest_solver(op(10 ** 6, 48)) == "lu"


def test_deck_validates_multigrid_as_gcr_preconditioner():
    v = Validator(get_registry())
    table = {"kind": "gcr", "preconditioner": {"kind": "multigrid", "levels": [{"block": [2, 2, 2, 2], "n_vec": 8}],
                                               "smoother": "full"}}
    out = v.component("solvers", table, stage="prop", key="solver")
    assert out["preconditioner"]["nu_post"] == 4 and out["preconditioner"]["coarse_tol"] == 0.25
    table["preconditioner"]["levels"].append({"block": [2, 2, 2], "n_vec": 8})
    with pytest.raises(DeckError, match=r"solver.preconditioner.levels.*level 1: block must be 4 positive"):
        v.component("solvers", table, stage="prop", key="solver")
