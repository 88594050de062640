"""hpcmix-lowfloat: IEEE float16 and bfloat16 field storage for hpcmix, found through the ``hpcmix``
entry-point group (``lowfloat = hpcmix_lowfloat.plugin``)."""

__version__ = "0.1.0"
