"""load_gauge and save_gauge decks: what ``hpcmix check`` must catch before any stage runs (cut
files, unknown format names, a save over an existing file, a precision the format cannot hold),
format names in any case and their aliases, and reunitarization on load."""

import shutil

import h5py
import numpy as np
import pytest

from cli_helpers import hpcmix, write_deck
from hpcmix.deck import Deck
from hpcmix.errors import DeckError
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.lattice import Lattice

LOAD = '[[stage]]\nname = "gauge"\nkind = "load_gauge"\nfile = "{file}"\n{extra}\n'
GENERATE = '[lattice]\ndims = [4, 4, 4, 4]\n[[stage]]\nname = "gauge"\nkind = "generate_gauge"\n'
SAVE = '[[stage]]\nname = "save"\nkind = "save_gauge"\nfile = "{file}"\n{extra}\n'


def load_deck(tmp_path, file, extra=""):
    return write_deck(tmp_path / "load.toml", LOAD.format(file=file, extra=extra))


def save_deck(tmp_path, file, extra=""):
    return write_deck(tmp_path / "save.toml", GENERATE + SAVE.format(file=file, extra=extra))


def deck_error(deck):
    with pytest.raises(DeckError) as info:
        Deck.load(deck)
    return info.value


@pytest.mark.parametrize("folder, name, keep", [("milc", "lat.sample.l8888", 100000),
                                                ("nersc", "t_nersc.cfg", 40000)])
def test_check_catches_a_cut_file(shared_data, tmp_path, folder, name, keep):
    cut = tmp_path / name
    cut.write_bytes((shared_data / "gauge" / folder / name).read_bytes()[:keep])
    deck = load_deck(tmp_path, name)
    result = hpcmix("check", deck, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("hpcmix: error:") == 1 and "Traceback" not in result.stderr
    for piece in (str(deck), "stage 'gauge'", "key 'file'", "truncated", f"{keep} bytes"):
        assert piece in result.stderr, (piece, result.stderr)


@pytest.mark.parametrize("folder, name, fmt", [("milc", "lat.sample.l4444", "MILC"), ("milc", "lat.sample.l4444", "Milc"),
                                               ("lime", "lat.sample.l4444.ildg", "lime"),
                                               ("lime", "lat.sample.l4448.scidac", "SciDAC"),
                                               ("lime", "lat.sample.l4444.ildg", "ILDG")])
def test_format_names_in_any_case_and_aliases(shared_data, tmp_path, folder, name, fmt):
    deck = Deck.load(load_deck(tmp_path, shared_data / "gauge" / folder / name, f'format = "{fmt}"'))
    assert deck.dims[:3] == [4, 4, 4]


def test_unknown_format_is_a_deck_error_listing_the_known_ones(shared_data, tmp_path):
    milc = shared_data / "gauge" / "milc" / "lat.sample.l4444"
    error = deck_error(load_deck(tmp_path, milc, 'format = "gif"'))
    assert (error.stage, error.key) == ("gauge", "format")
    assert "unknown format 'gif'" in error.reason and "hpcmix, ildg, milc, nersc" in error.reason
    assert "lime = ildg" in error.reason and "scidac = ildg" in error.reason
    error = deck_error(save_deck(tmp_path, "out.cfg", 'format = "gif"'))
    assert (error.stage, error.key) == ("save", "format")


def test_save_over_an_existing_file_fails_at_check_before_anything_runs(tmp_path):
    (tmp_path / "exists.lime").write_bytes(b"keep me")
    deck = save_deck(tmp_path, "exists.lime", 'format = "lime"')
    error = deck_error(deck)
    assert (error.stage, error.key) == ("save", "file") and "exists" in error.reason
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 2 and "key 'file'" in result.stderr and "[gauge]" not in result.stdout
    assert (tmp_path / "exists.lime").read_bytes() == b"keep me" and not (tmp_path / "out.h5").exists()
    (tmp_path / "folder.h5").mkdir()
    assert "is a directory" in deck_error(save_deck(tmp_path, "folder.h5")).reason


def test_milc_holds_single_precision_only(tmp_path):
    error = deck_error(save_deck(tmp_path, "cfg.milc", 'format = "milc"\nprecision = "double"'))
    assert (error.stage, error.key) == ("save", "precision")
    assert "single precision only" in error.reason and 'precision = "single"' in error.reason
    Deck.load(save_deck(tmp_path, "cfg.milc", 'format = "milc"\nprecision = "single"'))


def test_save_gauge_default_precision_is_the_formats(tmp_path):
    """precision = "auto" (the default): MILC single, HDF5 double; recorded in the results."""
    deck = write_deck(tmp_path / "both.toml", GENERATE + SAVE.format(file="cfg.milc", extra='format = "MILC"')
                      + SAVE.replace('"save"', '"save_h5"').format(file="cfg.h5", extra=""))
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "(milc, single precision)" in result.stdout
    back = MILCGaugeFormat().read(tmp_path / "cfg.milc", Lattice([4, 4, 4, 4]))
    with h5py.File(tmp_path / "out.h5") as out, h5py.File(tmp_path / "cfg.h5") as h5:
        assert out["save"].attrs["precision"] == "single" and out["save_h5"].attrs["precision"] == "double"
        assert h5["gauge/U"].dtype == np.complex128
        assert np.array_equal(back.U, h5["gauge/U"][...].astype(np.complex64).astype(np.complex128))


def test_reunitarize_on_load_is_recorded(shared_data, tmp_path):
    milc = tmp_path / "l4448"
    shutil.copyfile(shared_data / "gauge" / "milc" / "lat.sample.l4448", milc)
    deck = load_deck(tmp_path, "l4448", "reunitarize = true")
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "reunitarized every link in float64 (largest change of a link entry" in result.stdout
    with h5py.File(tmp_path / "out.h5") as out:
        attrs = out["gauge"].attrs
        assert attrs["reunitarized"] and 1e-9 < attrs["reunitarize_max_change"] < 1e-6
        assert attrs["plaquette"] == pytest.approx(0.569055724369, abs=1e-6)
