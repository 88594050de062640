"""The results file: never over an existing output or partial file, even one that appears while the
run goes on, and clear errors for outputs that name no file."""

import errno
import os

import h5py
import pytest

from hpcmix.errors import HpcmixError
from hpcmix.io import atomic
from hpcmix.io.results import ResultsFile, output_problem


def results(path, **kwargs):
    out = ResultsFile(path, **kwargs).open({"run": path.name})
    out.write("/data", [1.0, 2.0])
    return out


@pytest.mark.parametrize("output", ["", " ", ".", "..", "out/", "sub/dir/"])
def test_output_must_name_a_file(output):
    assert output_problem(output, overwrite=True) == f"output must name a file, not {output!r}"
    with pytest.raises(HpcmixError, match="output must name a file"):
        ResultsFile(output, overwrite=True).open()


def test_output_problems(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.h5").write_text("precious")
    assert "is a directory" in output_problem(str(tmp_path / "folder"), overwrite=True)
    assert "exists; refusing to overwrite it" in output_problem(str(tmp_path / "old.h5"), overwrite=False)
    assert output_problem(str(tmp_path / "old.h5"), overwrite=True) is None
    assert output_problem(str(tmp_path / "new.h5"), overwrite=False) is None
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(HpcmixError, match=r"output .*file/out\.h5: .*file is not a directory"):
        ResultsFile(tmp_path / "file" / "out.h5").open()


def test_failed_runs_never_replace_an_earlier_partial_file(tmp_path):
    out = tmp_path / "out.h5"
    first = results(out).abandon()
    second = results(out).abandon()
    third = results(out).abandon()
    assert [first.name, second.name, third.name] == ["out.partial.h5", "out.partial-2.h5", "out.partial-3.h5"]
    for path in (first, second, third):
        with h5py.File(path) as h5:
            assert list(h5["data"][:]) == [1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.partial-2.h5", "out.partial-3.h5", "out.partial.h5"]


def test_commit_refuses_an_output_that_appeared_during_the_run(tmp_path):
    out = tmp_path / "out.h5"
    run = results(out)
    out.write_text("another run's results")
    with pytest.raises(HpcmixError, match=r"appeared while this run went on .*results are in .*out\.partial\.h5"):
        run.commit()
    assert out.read_text() == "another run's results"
    with h5py.File(tmp_path / "out.partial.h5") as h5:
        assert h5.attrs["run"] == "out.h5" and list(h5["data"][:]) == [1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "out.partial.h5"]


def test_commit_with_overwrite_replaces(tmp_path):
    out = tmp_path / "out.h5"
    out.write_text("old")
    results(out, overwrite=True).commit()
    with h5py.File(out) as h5:
        assert list(h5["data"][:]) == [1.0, 2.0]
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]


def test_no_clobber_without_hard_links(tmp_path, monkeypatch):
    """Where the file system makes no hard links, the target name is reserved exclusively instead."""
    def no_link(src, dst):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_link)
    src, dst = tmp_path / "tmp", tmp_path / "dst"
    src.write_text("ours")
    dst.write_text("theirs")
    with pytest.raises(FileExistsError):
        atomic.move_into_place(src, dst)
    assert dst.read_text() == "theirs" and src.read_text() == "ours"
    dst.unlink()
    atomic.move_into_place(src, dst)
    assert dst.read_text() == "ours" and not src.exists()
