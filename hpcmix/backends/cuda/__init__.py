"""The CUDA side of the ``cupy`` backend: which device runs here (:mod:`.device`) and the numba-cuda kernel
sources generated from the per-site statements the numba CPU backend compiles too (:mod:`.sources`)."""
