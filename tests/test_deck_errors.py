"""Every bad deck is a clear error naming the file, the stage and the key: exit code 2, one line per
error (all of a deck's errors at once), no traceback, and nothing written; a bad file found while the run
reads it is the same error."""

import os

import numpy as np
import pytest

from cli_helpers import GOOD_BODY, WEAK_GAUGE, hpcmix, write_deck

CASES = {
    "unknown_key": (GOOD_BODY.replace('seed = 5', 'seed = 5\ncolour = "red"'), ["stage 'gauge'", "key 'colour'", "unknown key"]),
    "wrong_type": (GOOD_BODY.replace("kappa = 0.11", 'kappa = "0.11"'), ["stage 'prop'", "key 'operator.kappa'", "number"]),
    "unknown_stage_kind": (GOOD_BODY.replace('kind = "meson"', 'kind = "mesons"'), ["stage 'pion'", "key 'kind'", "meson"]),
    "unknown_operator": (GOOD_BODY.replace('"wilson_clover"', '"wilsen"'), ["stage 'prop'", "key 'operator.kind'", "wilson_clover"]),
    "unknown_solver": (GOOD_BODY.replace('kind = "cg"', 'kind = "cgg"'), ["key 'solver.kind'", "bicgstab"]),
    "kappa_and_mass": (GOOD_BODY.replace("kappa = 0.11,", "kappa = 0.11, mass = 0.1,"), ["key 'operator.kappa'", "exactly one"]),
    "missing_file": (GOOD_BODY.replace('kind = "generate_gauge"\nstart = "weak"\nseed = 5',
                                       'kind = "load_gauge"\nfile = "no_such_file.h5"'),
                     ["stage 'gauge'", "key 'file'", "no_such_file.h5", "not found"]),
    "bad_dims": (GOOD_BODY.replace("dims = [4, 4, 4, 4]", "dims = [4, 4, 4]"), ["stage 'lattice'", "key 'dims'"]),
    "odd_dims": (GOOD_BODY.replace("dims = [4, 4, 4, 4]", "dims = [4, 4, 4, 5]"),
                 ["stage 'prop'", "key 'evenodd'", "even-odd preconditioning needs even lattice extents, got t = 5"]),
    "grid_mismatch": ("grid = [1, 1, 1, 2]\n" + GOOD_BODY, ["stage 'run'", "key 'grid'", "2 ranks"]),
    "bad_reference": (GOOD_BODY.replace('kind = "propagator"', 'kind = "propagator"\ngauge = "gauge2"'),
                      ["stage 'prop'", "key 'gauge'", "gauge2"]),
    "duplicate_name": (GOOD_BODY.replace('name = "pion"', 'name = "prop"'), ["stage 'prop'", "used twice"]),
    "bad_choice": (GOOD_BODY.replace('start = "weak"', 'start = "lukewarm"'), ["key 'start'", "'weak'"]),
    "source_negative": (GOOD_BODY.replace("site = [0, 0, 0, 0]", "site = [0, 0, -1, 0]"), ["key 'source.site'"]),
    "source_outside": (GOOD_BODY.replace("site = [0, 0, 0, 0]", "site = [0, 0, 4, 0]"), ["stage 'prop'", "key 'source.site'", "outside"]),
    "unknown_section": ("[lattic]\ndims = [4, 4, 4, 4]\n" + GOOD_BODY, ["key 'lattic'", "unknown section"]),
    "unknown_backend": ('backend = "fortran"\n' + GOOD_BODY, ["stage 'run'", "key 'backend'", "numpy"]),
    "bad_plugin": ('plugins = ["no_such_plugin_module"]\n' + GOOD_BODY, ["key 'plugins'", "no_such_plugin_module"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["check", "run"])
def test_bad_deck(tmp_path, case, command):
    body, expected = CASES[case]
    deck = write_deck(tmp_path / f"{case}.toml", body)
    result = hpcmix(command, deck, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr
    assert "Traceback" not in err
    assert err.startswith("hpcmix: error: ") and str(deck) in err, err
    for piece in expected:
        assert piece in err, (piece, err)
    assert not (tmp_path / "out.h5").exists()


def test_invalid_toml(tmp_path):
    deck = tmp_path / "broken.toml"
    deck.write_text("[run]\noutput = 'x.h5\n")
    result = hpcmix("check", deck)
    assert result.returncode == 2 and "not valid TOML" in result.stderr and str(deck) in result.stderr


def test_missing_deck(tmp_path):
    result = hpcmix("run", tmp_path / "nothing.toml")
    assert result.returncode == 2 and "nothing.toml" in result.stderr and "Traceback" not in result.stderr


def test_missing_output_key(tmp_path):
    deck = tmp_path / "noout.toml"
    deck.write_text("[run]\nbackend = 'numpy'\n" + GOOD_BODY)
    result = hpcmix("check", deck)
    assert result.returncode == 2 and "key 'output'" in result.stderr


def test_existing_output_is_never_overwritten(tmp_path):
    (tmp_path / "out.h5").write_text("precious")
    deck = write_deck(tmp_path / "deck.toml", GOOD_BODY)
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 2 and "key 'output'" in result.stderr and "overwrite" in result.stderr
    assert (tmp_path / "out.h5").read_text() == "precious"


def test_corrupt_gauge_file_is_a_clear_error(tmp_path):
    gauge_deck = write_deck(tmp_path / "make.toml", """
[lattice]
dims = [4, 4, 4, 4]
[[stage]]
name = "gauge"
kind = "generate_gauge"
[[stage]]
name = "save"
kind = "save_gauge"
file = "g.h5"
""", output="make.h5")
    assert hpcmix("run", gauge_deck, cwd=tmp_path).returncode == 0
    data = bytearray((tmp_path / "g.h5").read_bytes())
    data[-2000] ^= 0x40  # flip one bit inside the link data
    (tmp_path / "g.h5").write_bytes(bytes(data))
    deck = write_deck(tmp_path / "load.toml", GOOD_BODY.replace(
        'kind = "generate_gauge"\nstart = "weak"\nseed = 5', 'kind = "load_gauge"\nfile = "g.h5"'))
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "g.h5" in result.stderr and ("checksum" in result.stderr or "unitary" in result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.h5").exists()


def test_automatic_process_grid():
    """Largest local extent first, even local extents preferred, odd ones where nothing else divides."""
    from hpcmix.comm.grid import auto_grid
    from hpcmix.errors import HpcmixError
    assert auto_grid([4, 4, 4, 8], 2) == [1, 1, 1, 2]
    assert auto_grid([4, 4, 4, 8], 8) == [1, 1, 2, 4]
    assert auto_grid([8, 8, 8, 16], 16) == [1, 2, 2, 4]
    assert auto_grid([6, 6, 6, 6], 2) == [1, 1, 1, 2]       # local t = 3
    assert auto_grid([6, 6, 6, 6], 4) == [1, 1, 2, 2]
    with pytest.raises(HpcmixError, match="no extent is divisible by the factor 2"):
        auto_grid([5, 5, 5, 5], 2)


@pytest.mark.parametrize("output, message", [("", "output must name a file"), ("results/", "output must name a file"),
                                             ("adir", "is a directory; name a file in it")])
def test_output_that_names_no_file(tmp_path, output, message):
    (tmp_path / "adir").mkdir()
    deck = write_deck(tmp_path / "deck.toml", GOOD_BODY, output=output)
    result = hpcmix("check", deck, cwd=tmp_path)
    assert result.returncode == 2 and "stage 'run': key 'output'" in result.stderr and message in result.stderr, \
        result.stderr


# ---- defects found by a new user (issue 8) -------------------------------------------------------
@pytest.mark.parametrize("folder, name, offset", [("milc", "lat.sample.l4444", 5000),
                                                  ("nersc", "t_nersc.cfg", 5000),
                                                  ("lime", "lat.sample.l4444.ildg", 5000)])
def test_failed_checksum_exits_2_and_writes_nothing(shared_data, tmp_path, folder, name, offset):
    """A bad file found while the run reads it is an input error as any other: exit 2, nothing written."""
    data = bytearray((shared_data / "gauge" / folder / name).read_bytes())
    data[offset] ^= 0x01
    (tmp_path / name).write_bytes(bytes(data))
    deck = write_deck(tmp_path / "deck.toml", f'backend = "numpy"\n[[stage]]\nname = "gauge"\nkind = "load_gauge"\n'
                                             f'file = "{name}"\n')
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "checksum" in result.stderr.lower() and name in result.stderr and "stage 'gauge'" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["deck.toml", name])


def test_input_error_after_finished_stages_keeps_their_results(tmp_path):
    """The same error after a stage has finished: exit 2, the finished stage's results kept."""
    from hpcmix.fields import GaugeField
    from hpcmix.io.milc import MILCGaugeFormat
    from hpcmix.lattice import Lattice
    MILCGaugeFormat().write(tmp_path / "cfg.milc", GaugeField.weak(Lattice([4, 4, 4, 4]), 1, 0.2))
    data = bytearray((tmp_path / "cfg.milc").read_bytes())
    data[5000] ^= 0x01
    (tmp_path / "cfg.milc").write_bytes(bytes(data))
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE.replace("[lattice]", 'backend = "numpy"\n[lattice]') +
                      '[[stage]]\nname = "load"\nkind = "load_gauge"\nfile = "cfg.milc"\n')
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 2 and "cfg.milc" in result.stderr and "checksum" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out.partial.h5"]


def test_check_reports_every_error(tmp_path):
    body = (GOOD_BODY.replace('seed = 5', 'seed = 5\ncolour = "red"').replace("kappa = 0.11", 'kappa = "0.11"')
            .replace('tol = 1e-9', 'tol = 1e-9, maxiter = 0').replace('kind = "meson"', 'kind = "mesons"'))
    result = hpcmix("check", write_deck(tmp_path / "deck.toml", 'backend = "fortran"\n' + body), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("hpcmix: error: ") for line in lines), lines
    for where in ["stage 'run': key 'backend'", "stage 'gauge': key 'colour'", "stage 'prop': key 'operator.kappa'",
                  "stage 'prop': key 'solver.maxiter'", "stage 'pion': key 'kind'"]:
        assert sum(where in line for line in lines) == 1, (where, lines)
    assert len(lines) == 5, lines


def test_output_folder_that_cannot_be_written_is_a_deck_error(tmp_path):
    (tmp_path / "afile").write_text("")
    deck = write_deck(tmp_path / "deck.toml", GOOD_BODY, output="afile/out.h5")
    result = hpcmix("check", deck, cwd=tmp_path)
    assert result.returncode == 2 and "stage 'run': key 'output'" in result.stderr, result.stderr
    assert "afile" in result.stderr and "not a directory" in result.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_without_write_permission_is_a_deck_error(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    deck = write_deck(tmp_path / "deck.toml", GOOD_BODY, output="ro/out.h5")
    result = hpcmix("check", deck, cwd=tmp_path)
    assert result.returncode == 2 and "stage 'run': key 'output'" in result.stderr, result.stderr
    assert "not writable" in result.stderr


def test_meson_refuses_a_propagator_of_a_file_source(tmp_path):
    from hpcmix.io.scidac_vector import write_vector
    from hpcmix.lattice import Lattice
    lattice = Lattice([4, 4, 4, 4])
    write_vector(tmp_path / "src.lime", lattice, np.ones(lattice.shape + (4, 3), dtype=np.complex128))
    deck = write_deck(tmp_path / "deck.toml", GOOD_BODY.replace('source = { kind = "point", site = [0, 0, 0, 0] }',
                                                                'source = { kind = "file", file = "src.lime" }'))
    result = hpcmix("check", deck, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "stage 'pion': key 'propagator'" in result.stderr and "'file' source" in result.stderr, result.stderr
    assert "point or wall" in result.stderr
