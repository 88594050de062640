"""What the ``cupy`` backend does around its kernels: the tune cache, the CUDA-aware MPI query, halos
across ranks and ``hpcmix info`` (under numba-cuda's simulator in subprocesses, so without a GPU)."""

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from hpcmix.backends.cuda import mpi_support
from hpcmix.backends.cuda.tune import TuneCache
from mpi_helpers import ROOT, run_mpi

NO_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is None
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
simulator = pytest.mark.skipif(NO_NUMBA_CUDA or SIMULATED, reason="needs numba-cuda, outside the simulator's run")


def sleeper(seconds, calls):
    """A launch that takes ``seconds[threads]`` and records its threads."""
    def run(threads):
        calls.append(threads)
        time.sleep(seconds[threads])
    return run


def test_tuning_keeps_the_fastest_candidate_and_a_later_process_reuses_it(tmp_path):
    calls = []
    cache = TuneCache("GPU X", tmp_path)
    best = cache.threads("('wilson', 12)", 4096, (32, 64, 128), sleeper({32: 0.004, 64: 0.001, 128: 0.003}, calls))
    assert best == 64 and sorted(set(calls)) == [32, 64, 128] and len(cache.tuned) == 1
    stored = json.loads((tmp_path / "tunecache.json").read_text())
    assert stored == {"GPU X | ('wilson', 12) | 4096 sites": {"threads": 64, "seconds": pytest.approx(0.001, abs=2e-3)}}
    later = TuneCache("GPU X", tmp_path)
    assert later.threads("('wilson', 12)", 4096, (32, 64, 128), sleeper({}, [])) == 64 and later.tuned == []


def test_keys_differ_by_gpu_model_kernel_and_volume(tmp_path):
    cache, calls = TuneCache("GPU X", tmp_path), []
    cache.threads("k", 4096, (32,), sleeper({32: 0}, calls))
    for device, kernel, sites in (("GPU Y", "k", 4096), ("GPU X", "k2", 4096), ("GPU X", "k", 8192)):
        TuneCache(device, tmp_path).threads(kernel, sites, (64,), sleeper({64: 0}, calls))
    assert len(json.loads((tmp_path / "tunecache.json").read_text())) == 4


def test_writers_merge_and_never_replace_an_entry(tmp_path):
    """Two processes tuning at once: the file gets both keys, and the first answer of a key stays."""
    a, b = TuneCache("GPU X", tmp_path), TuneCache("GPU X", tmp_path)
    a.threads("k", 64, (32, 64), sleeper({32: 0.002, 64: 0}, []))
    b.threads("k", 64, (32, 64), sleeper({32: 0, 64: 0.002}, []))      # b had not read a's answer
    b.threads("other", 64, (32,), sleeper({32: 0}, []))
    stored = json.loads((tmp_path / "tunecache.json").read_text())
    assert stored["GPU X | k | 64 sites"]["threads"] == 64 and "GPU X | other | 64 sites" in stored


def test_a_candidate_that_cannot_launch_is_skipped(tmp_path):
    def run(threads):
        if threads == 512:
            raise RuntimeError("too many resources requested for launch")
    assert TuneCache("GPU X", tmp_path).threads("k", 64, (256, 512), run) == 256


def test_cuda_aware_mpi_query(monkeypatch):
    from mpi4py import MPI  # noqa: F401 - the library must be loaded for its query
    for value in ("0", "1"):
        monkeypatch.setenv("HPCMIX_CUDA_AWARE_MPI", value)
        assert mpi_support.cuda_aware() == (value == "1", f"HPCMIX_CUDA_AWARE_MPI={value}")
    monkeypatch.delenv("HPCMIX_CUDA_AWARE_MPI")
    aware, how = mpi_support.cuda_aware()
    assert isinstance(aware, bool) and ("MPIX_" in how or "no CUDA query" in how)
    # the MPI of the registry wheels (MPICH, Open MPI) is built without CUDA
    assert not aware or "Query" in how


@simulator
def test_second_backend_tunes_nothing(tmp_path):
    """A first backend tunes its launches into the cache; a second one (another run, another rank) reads
    them all and tunes none."""
    script = """
import numpy as np
from hpcmix.backends.cupy_backend import CupyBackend
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import HALF
lattice = Lattice([4, 4, 4, 4])
psi = np.random.default_rng(1).standard_normal(lattice.shape + (4, 3)) + 0j
counts = []
for _ in range(2):
    backend = CupyBackend()
    f = WilsonDirac(GaugeField.weak(lattice, 7, 0.3), 0.2).on_backend(backend).at(HALF, 12)
    x = Field.from_canonical(f.layout, 1, HALF, psi, backend)
    f.space.spaces[0].norm2(f.hop(x))
    counts.append(len(backend.tune.tuned))
print(counts)
"""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", HPCMIX_TUNE_CACHE=str(tmp_path), NUMBA_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = json.loads(run.stdout.strip().splitlines()[-1])
    assert first >= 2 and second == 0
    assert len(json.loads((tmp_path / "tunecache.json").read_text())) == first


@simulator
def test_halos_under_the_simulator(tmp_path):
    """tests/mpi/test_cupy_halo.py on 2 ranks, the cupy backend's kernels in the simulator."""
    run = run_mpi(2, [sys.executable, "-m", "pytest", "--with-mpi", "-q", "-p", "no:cacheprovider", "-m", "gpu",
                      "tests/mpi/test_cupy_halo.py"], timeout=300,
                  env={"NUMBA_ENABLE_CUDASIM": "1", "HPCMIX_TUNE_CACHE": str(tmp_path)})
    assert run.returncode == 0 and "passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-4000:]


@simulator
def test_info_reports_each_ranks_gpu_and_the_halo_path(tmp_path):
    run = run_mpi(2, [sys.executable, "-m", "hpcmix", "info"], timeout=120,
                  env={"NUMBA_ENABLE_CUDASIM": "1", "HPCMIX_TUNE_CACHE": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert f"halos through host memory (the simulator's arrays); tune cache {tmp_path}/tunecache.json" in run.stdout
    assert "rank 0 (node-local 0)" in run.stdout and "rank 1 (node-local 1)" in run.stdout


@simulator
def test_dslash_benchmark_on_the_gpu_backend_and_a_second_run_tunes_nothing(tmp_path):
    """``hpcmix bench dslash --backends cupy`` (what benchmarks/gpu_check.sh runs twice), in the simulator at
    4^4: every Wilson/clover/asqtad record, the tuned launches, then none on the second run."""
    argv = [sys.executable, "-m", "hpcmix", "bench", "dslash", "--size", "4", "--repeat", "1", "--backends", "cupy",
            "--precisions", "half", "--no-csr", "--json"]
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", HPCMIX_TUNE_CACHE=str(tmp_path), NUMBA_NUM_THREADS="1")
    tuned = []
    for i in range(2):
        run = subprocess.run(argv + [str(tmp_path / f"{i}.json")], env=env, capture_output=True, text=True,
                             timeout=300, cwd=ROOT)
        assert run.returncode == 0, run.stderr[-3000:]
        figures = json.loads((tmp_path / f"{i}.json").read_text())
        assert {(r["operator"], r["reconstruct"]) for r in figures["kernels"]} == {
            ("wilson", 18), ("wilson", 12), ("wilson", 8), ("wilson_clover", 18), ("wilson_clover", 12),
            ("wilson_clover", 8), ("asqtad", 18)}
        tuned.append(figures["tuned_launches"]["cupy"])
    assert tuned[0] > 0 and tuned[1] == 0


class _FakeStream:
    """A stand-in for cupy.cuda.Stream that logs what is asked of it (the simulator has no streams)."""

    def __init__(self, log, current, name):
        self.log, self.current, self.name, self.ptr = log, current, name, name

    def use(self):
        self.current[:] = [self]

    def record(self):
        self.log.append(("record", self.name))
        return self.name

    def wait_event(self, event):
        self.log.append(("wait", self.name, event))

    def synchronize(self):
        self.log.append(("synchronize", self.name))

    def __enter__(self):
        self.current.append(self)

    def __exit__(self, *exc):
        self.current.pop()


@pytest.mark.skipif(NO_NUMBA_CUDA, reason="needs numba-cuda")
def test_halo_work_is_ordered_between_the_streams_by_events(monkeypatch):
    """The stream protocol of a GPU run, with stand-in streams: halo work starts after the compute stream's
    queued work (an event), kernels launched inside go to the halo stream, compute work queued afterwards
    waits for the halo stream's (an event), and the host waits for the halo stream at the end."""
    import types

    from numba import cuda

    from hpcmix.backends.cuda import device
    log, current, names = [], [], iter(["compute", "halo"])
    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(
        Stream=lambda non_blocking: _FakeStream(log, current, next(names)),
        get_current_stream=lambda: current[-1]))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(device, "simulated", lambda: False)
    monkeypatch.setattr(cuda, "external_stream", lambda ptr: f"numba:{ptr}")
    streams = device.Streams()
    assert streams.current() == "numba:compute"
    with streams.on_halo():
        log.append(("launch", streams.current()))
    assert streams.current() == "numba:compute"
    assert log == [("record", "compute"), ("wait", "halo", "compute"), ("launch", "numba:halo"),
                   ("record", "halo"), ("wait", "compute", "halo"), ("synchronize", "halo")]
