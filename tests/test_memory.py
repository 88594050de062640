"""The memory estimate of a deck (:mod:`hpcmix.memory`): hand-computed bytes, growth with the volume and
n_ev, the table ``hpcmix check`` prints, and the refusal of a run that does not fit."""

import time

from cli_helpers import hpcmix
from hpcmix import memory
from hpcmix.deck import Deck

GAUGE = """
[lattice]
dims = {dims}

[[stage]]
name = "gauge"
kind = "generate_gauge"
"""

PROPAGATOR = """
[[stage]]
name = "prop"
kind = "propagator"
operator = { kind = "wilson", kappa = 0.11 }
solver = { kind = "cg", tol = 1e-8 }

[[stage]]
name = "pion"
kind = "meson"
"""

EIGENSOLVE = """
[[stage]]
name = "eig"
kind = "eigensolve"
operator = {{ kind = "wilson_clover", kappa = 0.11, csw = 1.0 }}
n_ev = {n_ev}
save = true
"""


def load(tmp_path, body, dims="[4, 4, 4, 4]", name="deck.toml"):
    path = tmp_path / name
    path.write_text(f'[run]\noutput = "{tmp_path / "out.h5"}"\n' + GAUGE.format(dims=dims) + body)
    return Deck.load(path)


def test_estimate_of_a_propagator_deck_matches_hand_computed_bytes(tmp_path):
    """4^4 sites on one rank, a Wilson propagator solved by double-precision even-odd CG, and its pion."""
    est = memory.estimate(load(tmp_path, PROPAGATOR), 1, available_bytes=2 ** 40)
    V = 4 ** 4
    gauge = 4 * 9 * 16 * V                            # U[t, z, y, x, 4, 3, 3] complex128
    spinor = 12 * 16 * V                              # one canonical Wilson field, complex128
    half = 24 * 8 * V // 2                            # one half-lattice field in double
    dirac = 3 * gauge                                 # phased, transposed and conjugated links, no clover
    backend = 8 * 18 * 8 * V + 8 * 8 * V              # row-layout links (8 directions, 18 reals) and phases
    sources = 12 * spinor                             # a point source's 12 components, built at once
    solve = 2 * spinor + (6 + 8) * half               # imported b, exported x; CG's outer and sloppy fields
    propagator = 12 * spinor                          # the propagator
    rows = {s.name: (s.working, s.kept, s.rank0) for s in est.stages}
    assert rows == {"gauge": (gauge, gauge, 0), "prop": (dirac + backend + sources + solve, propagator, 0),
                    "pion": (12 * spinor, 0, 0)}
    assert est.per_rank() == [2 * gauge, gauge + dirac + backend + sources + solve + propagator,
                              gauge + propagator + 12 * spinor]
    assert est.peak == gauge + dirac + backend + sources + solve + propagator == 9856 * V
    assert est.node() == (est.peak, est.stages[1]) and est.fits()


def test_estimate_grows_with_the_volume_and_n_ev(tmp_path):
    small = memory.estimate(load(tmp_path, PROPAGATOR, name="a.toml"), 1)
    large = memory.estimate(load(tmp_path, PROPAGATOR, dims="[8, 8, 8, 8]", name="b.toml"), 1)
    assert large.peak == 16 * small.peak                        # every array counted is per site
    few = memory.estimate(load(tmp_path, EIGENSOLVE.format(n_ev=4), name="c.toml"), 1)
    many = memory.estimate(load(tmp_path, EIGENSOLVE.format(n_ev=16), name="d.toml"), 1)
    half = 24 * 8 * 4 ** 4 // 2
    assert many.stages[1].kept - few.stages[1].kept == 12 * half     # the eigenvectors kept
    assert many.stages[1].working > few.stages[1].working and many.peak > few.peak
    assert many.stages[1].rank0 > few.stages[1].rank0 >= 0      # save = true: rank 0 gathers the vectors


def test_ranks_per_node_and_rank0_extra_add_up(tmp_path):
    """A node runs n ranks at the peak, and rank 0's gather besides; a dense system is rank 0's alone."""
    est = memory.estimate(load(tmp_path, EIGENSOLVE.format(n_ev=8)), 4, available_bytes=2 ** 40)
    need, at = est.node()
    assert at.name == "eig" and need == 4 * est.per_rank()[1] + at.rank0
    dense = tmp_path / "dense.toml"
    dense.write_text(f'[run]\noutput = "{tmp_path / "d.h5"}"\n[[stage]]\nname = "d"\nkind = "dense_solve"\n'
                     'matrix = { generator = "randsvd", n = 100 }\nrhs = { generator = "random", nrhs = 3 }\n')
    (row,) = memory.estimate(Deck.load(dense), 2, available_bytes=2 ** 40).stages
    assert (row.working, row.kept, row.rank0, row.key) == (0, 100 * 3 * 8, (6 * 100 ** 2 + 4 * 100 * 3) * 8, "matrix.n")
    small = memory.estimate(Deck.load(dense), 2, available_bytes=row.rank0)
    assert not small.fits() and "stage 'd': key 'matrix.n'" in str(memory.problem(small, dense))


def test_check_prints_the_table(tmp_path):
    deck = load(tmp_path, PROPAGATOR).path
    proc = hpcmix("check", deck, "--ranks-per-node", "2", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "memory estimate per rank (host; 2 rank(s) per node)" in out
    for row in ("gauge            generate_gauge", "prop             propagator", "pion             meson"):
        assert row in out
    assert "peak per rank 2.4 MiB" in out and "node: 2 x peak" in out and "available on this node:" in out
    assert "GPU: 0 (backend 'numba' keeps every lattice field in host memory)" in out
    assert "OK (lattice [4, 4, 4, 4]" in out


def test_a_gpu_backend_holds_the_largest_working_set_on_its_gpu(tmp_path):
    """backend cupy: the GPU column is the largest working set of a stage (the propagator's: its solver's
    fields and links live on the GPU), whether or not this machine has a GPU (the deck alone decides)."""
    host = memory.estimate(load(tmp_path, PROPAGATOR), 1, available_bytes=2 ** 40)
    assert host.gpu == 0
    deck = load(tmp_path, PROPAGATOR, name="cupy.toml")
    deck.run["backend"] = "cupy"
    gpu = memory.estimate(deck, 1, available_bytes=2 ** 40)
    assert gpu.gpu == max(s.working for s in host.stages) == host.stages[1].working
    assert f"GPU: {memory.size(gpu.gpu)} per rank (backend 'cupy'" in "\n".join(memory.table(gpu))


def test_a_deck_that_does_not_fit_is_refused_before_any_work(tmp_path):
    loaded = load(tmp_path, PROPAGATOR, dims="[256, 256, 256, 512]")
    deck, need = loaded.path, memory.size(memory.estimate(loaded, 1).peak)
    assert need == "77.0 TiB"                   # 9856 bytes per site
    t0 = time.perf_counter()
    run = hpcmix("run", deck, cwd=tmp_path, timeout=120)
    assert time.perf_counter() - t0 < 60
    assert run.returncode == 2, run.stdout + run.stderr
    message = run.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert f"{deck}: stage 'prop': the run needs about {need} of memory on this node" in message
    assert "available (MemAvailable)" in message and "HPCMIX_IGNORE_MEMORY=1" in message
    assert "[gauge]" not in run.stdout and sorted(p.name for p in tmp_path.iterdir()) == ["deck.toml"]
    check = hpcmix("check", deck, cwd=tmp_path, timeout=120)
    assert check.returncode == 2 and "DOES NOT FIT" in check.stdout
    assert f"the run needs about {need}" in check.stderr and "OK" not in check.stdout
    ignored = hpcmix("check", deck, cwd=tmp_path, timeout=120, env={"HPCMIX_IGNORE_MEMORY": "1"})
    assert ignored.returncode == 0 and "DOES NOT FIT" in ignored.stdout and "OK" in ignored.stdout
