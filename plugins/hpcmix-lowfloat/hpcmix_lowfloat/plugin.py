"""The ``hpcmix`` entry point of hpcmix-lowfloat: registers ``float16`` and ``bfloat16`` storage."""

from hpcmix.hookspecs import hookimpl

from .precisions import BFLOAT16, FLOAT16


@hookimpl
def precisions():
    return [FLOAT16, BFLOAT16]
