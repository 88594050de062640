"""Resuming a failed run: ``hpcmix run DECK --resume``.

A run with ``[run] checkpoint = true`` (the default) keeps the work of its long solves in
``<output>.checkpoint.h5`` (:mod:`hpcmix.io.checkpoints`) as each piece finishes (a propagator's
columns), and removes the file when it succeeds. A failed run leaves it; ``--resume`` runs the deck again,
and every stage that checkpoints takes its finished work from the file instead of redoing it (a
propagator solves only the columns the file lacks, and writes the reports of the others as they were
written). The deck must be the one the checkpoints were made for: the two are compared key by key
([run] ``overwrite`` and ``progress_seconds`` aside) and the first difference is a deck error naming the
key. The stages are deterministic, so a resumed run on the same process grid and backend gives bitwise
the datasets of an uninterrupted one. A run without ``--resume`` refuses to start where a checkpoint
file exists (it would be lost).
"""

import tomllib

from .errors import DeckError
from .params import first_difference

IGNORED_RUN_KEYS = ("overwrite", "progress_seconds")


def _comparable(text):
    deck = tomllib.loads(text)
    run = deck.get("run", {})
    for key in IGNORED_RUN_KEYS:
        run.pop(key, None)
    return deck


def check_same_deck(deck, checkpoint, stored_text):
    """The deck of the run being resumed (``stored_text``, from the file ``checkpoint``) must be ``deck``'s."""
    difference = first_difference(_comparable(deck.text), _comparable(stored_text))
    if difference:
        key, here, there = difference
        stage = None
        if key.startswith("stage["):                  # stage[i].solver.tol: stage <name of stage i>, key solver.tol
            index, _, key = key[len("stage["):].partition("]")
            stage = deck.stages[int(index)].name if int(index) < len(deck.stages) else f"stage[{index}]"
            key = key.lstrip(".") or "stage"
        raise DeckError(f"cannot resume: this deck differs from the one of {checkpoint} ({here!r} here, {there!r} "
                        "there); run it afresh (without --resume) or restore the deck", file=deck.path, stage=stage,
                        key=key)
