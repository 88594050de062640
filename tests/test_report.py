"""``hpcmix report``: the tables and figures of a results file, checked against what the file holds, and
its errors (missing or foreign files, a folder it may not write into, no matplotlib)."""

import json
import re
import shutil
import struct

import h5py
import numpy as np
import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from hpcmix.report.figures import convergence_figure, dense_figure
from hpcmix.report.folder import MARKER
from hpcmix.report.page import render, sections
from hpcmix.report.results import read_results
from hpcmix.solvers.base import SolveResult

pytest.importorskip("matplotlib")

#: 4^4 on the numpy backend (nothing to compile): a double-half clover propagator (reliable updates),
#: the pion, and a dense system whose fp32 refinement falls back to the float64 LU.
DECK = 'backend = "numpy"\n' + WEAK_GAUGE + """
[[stage]]
name = "plaq"
kind = "plaquette"

[[stage]]
name = "prop"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.12, csw = 1.0 }
solver = { kind = "cg", tol = 1e-10, sloppy = "half" }

[[stage]]
name = "pion"
kind = "meson"

[[stage]]
name = "dense"
kind = "dense_solve"
matrix = { generator = "randsvd", n = 32, cond = 1e12, mode = 3, seed = 1 }
factorization = "fp32"
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(folder, results file, the report's stdout) of the deck above and ``hpcmix report --html``."""
    cwd = tmp_path_factory.mktemp("report")
    result = hpcmix("run", write_deck(cwd / "deck.toml", DECK), cwd=cwd)
    assert result.returncode == 0, result.stderr
    report = hpcmix("report", "out.h5", "--html", "html", cwd=cwd)
    assert report.returncode == 0, report.stderr
    return cwd, cwd / "out.h5", report.stdout


def _rows(stdout, title):
    """The data rows of the plain-text table ``title`` (split on runs of two or more spaces)."""
    block = stdout.split(f"{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in block[2:]]


def test_summary_lists_every_solve_with_what_the_file_holds(run):
    _, path, stdout = run
    rows = {(r[0], int(r[1])): r for r in _rows(stdout, "Solves")}
    with h5py.File(path) as h5:
        solves = h5["prop/solves"]
        assert len(solves) == 12 and set(rows) == {("prop", i) for i in range(12)}
        for i in range(12):
            a = solves[str(i)].attrs
            row = rows["prop", i]
            assert row[3] == "double-half" and int(row[4]) == a["iterations"] and int(row[5]) == a["reliable_updates"]
            assert row[9] == f"{a['true_residual']:.3e}" and row[10] == "yes"
            assert row[12].startswith("double ") and ", half " in row[12] and float(row[13]) == pytest.approx(
                a["gflops"], rel=1e-2)
        dense = _rows(stdout, "Dense solves")
        assert len(dense) == 1 and dense[0][:2] == ["dense", "32"] and dense[0][7] == "yes"
        assert int(dense[0][3]) == h5["dense"].attrs["niters"]
    plaq = _rows(stdout, "Plaquette")
    assert [r[0] for r in plaq] == ["gauge", "plaq"]


def test_solves_record_where_reliable_updates_happened(run):
    with h5py.File(run[1]) as h5:
        for report in h5["prop/solves"].values():
            its = report.attrs["reliable_update_iterations"]
            assert len(its) == report.attrs["reliable_updates"] > 0
            assert np.all(np.diff(its) > 0) and 1 <= its[0] and its[-1] <= report.attrs["iterations"]
            assert set(json.loads(report.attrs["timings"])) == {"double", "half"}
        assert h5["dense"].attrs["fell_back"] and h5["dense"].attrs["fallback_step"] == \
            h5["dense"].attrs["outer_niters"] + 1


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24]), len(data)


def test_pngs_and_the_page_that_shows_them(run):
    cwd, _, stdout = run
    folder = cwd / "html"
    pngs = sorted(p.name for p in folder.glob("*.png"))
    expected = {f"solve-prop-{i}.png" for i in range(12)} | {"plaquette.png", "correlator-pion.png",
                                                             "effective-mass-pion.png", "dense-dense.png"}
    assert set(pngs) == expected
    for name in pngs:
        (width, height), size = _png_size(folder / name)
        assert (width, height) == (640, 400) and size > 10_000, name
    page = (folder / "index.html").read_text()
    assert sorted(re.findall(r'<img src="([^"]+)"', page)) == pngs
    assert json.loads((folder / MARKER).read_text())["files"] == sorted(pngs + ["index.html"])
    assert "wrote html/index.html and 16 figures" in stdout


def test_effective_mass_is_log_of_the_correlator_ratio(run):
    _, path, stdout = run
    with h5py.File(path) as h5:
        c = h5["pion/correlator"][:]
    expected = np.log(c[:-1] / c[1:])
    (corr,) = read_results(path).correlators
    np.testing.assert_allclose(corr.effective_mass(), expected, rtol=1e-14)
    rows = _rows(stdout, "pion: pion correlator")
    assert [float(r[2]) for r in rows[:-1]] == pytest.approx(expected, abs=1e-6) and rows[-1][2] == "-"


def test_convergence_figure_axes_and_curves(run):
    results = read_results(run[1])
    solve = results.solves[0]
    ax = convergence_figure(solve).axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["iterated residual"].get_ydata(), solve.history)
    updates = lines[f"reliable update ({solve.reliable_updates})"]
    assert list(updates.get_xdata()) == solve.reliable_update_iterations
    assert list(lines[f"true residual {solve.true_residual:.2e}"].get_ydata()) == [solve.true_residual]
    solve.fallbacks = [{"from": "half", "to": "single", "iteration": 7, "reason": "test"}]
    ax = convergence_figure(solve).axes[0]
    assert list(next(l for l in ax.get_lines() if l.get_label() == "fallback half -> single").get_xdata()) == [7, 7]
    (dense,) = results.dense
    ax = dense_figure(dense).axes[0]
    fallback = next(l for l in ax.get_lines() if l.get_label() == "fallback to the fp64 LU")
    assert list(fallback.get_xdata()) == [dense.fallback_step - 0.5] * 2 and ax.get_yscale() == "log"


def test_partial_file_is_marked(run, tmp_path):
    partial = shutil.copy(run[1], tmp_path / "out.partial.h5")
    with h5py.File(partial, "a") as h5:
        del h5.attrs["seconds"]
    results = read_results(partial)
    assert "Partial results" in render(results, sections(results))


def test_absorbed_solves_count_iterations_on():
    first = SolveResult(x=None, solver="cg", iterations=10, history=[0.1] * 10, reliable_updates=2,
                        reliable_update_iterations=[4, 10])
    second = SolveResult(x=None, solver="cg", iterations=5, history=[0.01] * 5, reliable_updates=1,
                         reliable_update_iterations=[5], fallbacks=[{"from": "half", "to": "single", "iteration": 3}])
    first.absorb(second)
    assert first.reliable_update_iterations == [4, 10, 15] and first.fallbacks[0]["iteration"] == 13
    assert second.fallbacks[0]["iteration"] == 3
    assert first.report()["reliable_update_iterations"].tolist() == [4, 10, 15]


def test_rerun_replaces_its_own_report_and_keeps_other_files(run):
    cwd = run[0]
    folder = cwd / "html"
    (folder / "notes.txt").write_text("mine")
    (folder / "solve-prop-99.png").write_bytes(b"stale")
    marker = json.loads((folder / MARKER).read_text())
    (folder / MARKER).write_text(json.dumps(dict(marker, files=marker["files"] + ["solve-prop-99.png"])))
    again = hpcmix("report", "out.h5", "--html", "html", cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert "replacing the report written there before" in again.stdout
    assert not (folder / "solve-prop-99.png").exists() and (folder / "notes.txt").read_text() == "mine"


def _clean_error(result, *pieces):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    for piece in pieces:
        assert piece in result.stderr, result.stderr


def test_missing_and_foreign_files(run, tmp_path):
    _clean_error(hpcmix("report", "nothing.h5", cwd=tmp_path), "nothing.h5: no such file")
    (tmp_path / "notes.txt").write_text("not HDF5")
    _clean_error(hpcmix("report", "notes.txt", cwd=tmp_path), "notes.txt: not an HDF5 file")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = 1
    _clean_error(hpcmix("report", "other.h5", cwd=tmp_path), "other.h5: not a results file of hpcmix run")


def test_foreign_folder_is_refused_and_left_alone(run, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "index.html").write_text("my page")
    result = hpcmix("report", run[1], "--html", folder, cwd=tmp_path)
    _clean_error(result, str(folder), "not written by hpcmix report")
    assert result.stdout == "" and [p.name for p in folder.iterdir()] == ["index.html"]
    assert (folder / "index.html").read_text() == "my page"


def test_without_matplotlib(run, tmp_path):
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    env = {"PYTHONPATH": str(fake.parent)}
    result = hpcmix("report", run[1], "--html", tmp_path / "out", cwd=tmp_path, env=env)
    assert result.returncode != 0 and 'pip install "hpcmix[report]"' in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
    text = hpcmix("report", run[1], cwd=tmp_path, env=env)
    assert text.returncode == 0 and "Solves" in text.stdout
