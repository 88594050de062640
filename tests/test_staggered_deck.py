"""Staggered operators and the file source in decks: a propagator from a SciDAC source file solved
end to end (M and M^dag M), and clear errors for bad staggered or file-source keys."""

import h5py
import numpy as np
import pytest

from hpcmix.deck import Deck
from hpcmix.errors import DeckError, FormatError
from hpcmix.fields import GaugeField
from hpcmix.io.scidac_vector import write_vector
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.pipeline import run_deck
from hpcmix.sources.file import FileSource

from lattice_helpers import random_spinor

DIMS = [4, 4, 4, 8]


def deck_text(tmp_path, operator, source, solve="M"):
    return f"""
[run]
output = "{tmp_path / 'out.h5'}"

[lattice]
dims = {DIMS}

[[stage]]
name = "gauge"
kind = "generate_gauge"
start = "weak"
seed = 12
epsilon = 0.3

[[stage]]
name = "prop"
kind = "propagator"
operator = {operator}
source = {source}
solver = {{ kind = "cg", tol = 1e-10 }}
solve = "{solve}"
save_solution = true

[[stage]]
name = "pion"
kind = "meson"
"""


@pytest.fixture
def source_file(tmp_path):
    lattice = Lattice(DIMS)
    b = random_spinor(lattice, 4, (3,))
    path = tmp_path / "src.lime"
    write_vector(path, lattice, b)
    return path, b


@pytest.mark.parametrize("operator, solve", [('{ kind = "asqtad", mass = 0.1, u0 = 0.9 }', "M"),
                                             ('{ kind = "naive_staggered", mass = 0.2 }', "MdagM")])
def test_file_source_propagator_deck(tmp_path, source_file, operator, solve):
    path, b = source_file
    deck_file = tmp_path / "deck.toml"
    text = deck_text(tmp_path, operator, f'{{ kind = "file", file = "{path.name}" }}', solve)
    if solve == "MdagM":     # (M^dag M)^-1 b is no propagator for a meson
        with pytest.raises(DeckError, match="key 'propagator': needs a propagator .* 'prop' a normal_propagator"):
            Deck.load(write(deck_file, text))
        named = text.replace('kind = "meson"', 'kind = "meson"\npropagator = "prop"')
        with pytest.raises(DeckError, match="key 'propagator': stage 'prop' gives a normal_propagator, not a propagator"):
            Deck.load(write(deck_file, named))
    else:                    # a file source's M^-1 b contracts to no meson either
        with pytest.raises(DeckError, match="key 'propagator': propagator 'prop' was solved for a 'file' source"):
            Deck.load(write(deck_file, text))
    text = text.replace('[[stage]]\nname = "pion"\nkind = "meson"\n', "")
    write(deck_file, text)
    run_deck(Deck.load(deck_file), log=lambda message: None)
    lattice = Lattice(DIMS)
    coefficients = asqtad_coefficients(0.9) if "asqtad" in operator else None
    d = StaggeredDirac(GaugeField.weak(lattice, 12, 0.3), 0.1 if coefficients else 0.2, (1, 1, 1, -1), coefficients)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        x = f["prop/solution"][()]
    assert x.shape == tuple(lattice.global_shape) + (3, 1)
    applied = d.M(x[..., 0]) if solve == "M" else d.normal(x[..., 0])
    assert np.sqrt(lattice.norm2(applied - b) / lattice.norm2(b)) <= 1e-10


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("operator, source, key, message", [
    ('{ kind = "asqtad", mass = 0.1 }', None, "stage 'prop': key 'operator.u0'",
     "exactly one of 'u0' and 'path_coefficients'"),
    ('{ kind = "asqtad", mass = 0.1, u0 = 0.9, path_coefficients = [1, 0, 0, 0, 0, 0] }', None,
     "key 'operator.u0'", "exactly one"),
    ('{ kind = "asqtad", mass = 0.1, path_coefficients = [1, 0, 0] }', None, "key 'operator.path_coefficients'",
     "expected 6 entries, got 3"),
    ('{ kind = "asqtad", mass = 0.1, u0 = -1.0 }', None, "key 'operator.u0'", "must be positive"),
    ('{ kind = "naive_staggered", mass = 0.0 }', None, "key 'operator.mass'", "must be positive"),
    ('{ kind = "naive_staggered" }', None, "key 'operator.mass'", "missing required key"),
    ('{ kind = "naive_staggered", mass = 0.1 }', '{ kind = "file", file = "src.lime", format = "milc" }',
     "key 'source.format'", "is not one of"),
    ('{ kind = "naive_staggered", mass = 0.1 }', '{ kind = "file", file = "nothing.lime" }',
     "key 'source.file'", "file not found"),
])
def test_bad_staggered_keys(tmp_path, source_file, operator, source, key, message):
    deck_file = tmp_path / "deck.toml"
    deck_file.write_text(deck_text(tmp_path, operator, source or '{ kind = "point" }'))
    with pytest.raises(DeckError) as info:
        Deck.load(deck_file)
    assert key in str(info.value) and message in str(info.value), str(info.value)


def test_file_source_on_another_lattice_is_a_deck_error(tmp_path, source_file):
    deck_file = tmp_path / "deck.toml"
    text = deck_text(tmp_path, '{ kind = "naive_staggered", mass = 0.1 }', '{ kind = "file", file = "src.lime" }')
    deck_file.write_text(text.replace(f"dims = {DIMS}", "dims = [4, 4, 4, 4]"))
    with pytest.raises(DeckError, match=r"key 'source.file'.*holds lattice \[4, 4, 4, 8\]"):
        Deck.load(deck_file)


def test_file_source_must_match_the_operators_fields(tmp_path, source_file):
    path, b = source_file
    lattice = Lattice(DIMS)
    cfg = {"file": str(path), "format": "auto", "verify": True}
    assert FileSource.check_lattice(cfg, DIMS) is None and FileSource.origin(cfg) == 0
    (vector,) = FileSource.build(lattice, cfg, (3,), None)
    assert np.array_equal(vector, b)
    with pytest.raises(FormatError, match=r"holds a ColorVector field \(site shape \(3,\)\), but the operator acts "
                                          r"on fields of site shape \(4, 3\)"):
        FileSource.build(lattice, cfg, (4, 3), None)
    assert FileSource.check_field(cfg, (3,)) is None
    text = deck_text(tmp_path, '{ kind = "wilson", kappa = 0.12 }', f'{{ kind = "file", file = "{path.name}" }}')
    with pytest.raises(DeckError, match=r"stage 'prop': key 'source.file': .*holds a ColorVector field \(site shape "
                                        r"\(3,\)\), but the operator acts on fields of site shape \(4, 3\)"):
        Deck.load(write(tmp_path / "deck.toml", text))      # at validation, before any stage runs


@pytest.mark.parametrize("solver, key", [('{ kind = "cg", reconstruct = 12 }', "solver.reconstruct"),
                                         ('{ kind = "cg", sloppy = "half", reconstruct_sloppy = 8 }',
                                          "solver.reconstruct_sloppy")])
def test_asqtad_link_compression_is_a_deck_error(tmp_path, solver, key):
    """Fat and Naik links are not SU(3): reconstruct 12 / 8 is refused at validation, not at run time."""
    text = deck_text(tmp_path, '{ kind = "asqtad", mass = 0.1, u0 = 0.9 }', '{ kind = "point" }')
    text = text.replace('solver = { kind = "cg", tol = 1e-10 }', f"solver = {solver}")
    with pytest.raises(DeckError, match=f"key '{key}': operator 'asqtad' allows reconstruct 18 only"):
        Deck.load(write(tmp_path / "deck.toml", text))
