"""The ``cupy`` GPU backend: fields in device memory (cupy arrays and its memory pool), numba-cuda kernels.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) the same kernels run on host numpy arrays, so
they are tested without a GPU (:mod:`hpcmix.backends.cuda.device`). Kernels of its own, generated from the
per-site sources of the numba CPU backend (:mod:`hpcmix.backends.cuda.sources`): ``wilson_hop`` and
``staggered_hop`` (every storage and reconstruct the CPU kernels take), the spin-projected Wilson faces
``wilson_face_pack`` and ``wilson_face_unpack``, the clover site term ``site_blocks``, ``lincomb``,
``inner``, ``norm2``, ``block_inner`` and ``block_lincomb``. ``gamma5`` is the numpy reference's, which
only slices and negates the arrays with their own methods (cupy runs it on device arrays); so is every
kernel on a storage these kernels do not know (a plugin's: on a GPU those still need host arrays).
"""

import numpy as np

from . import reference
from .base import Backend
from .cuda import device, mpi_support, sources
from .cuda.tune import TuneCache
from .kernels import rowloop, staggered, wilson
from .numba_backend import fixed_point, scale_of
from ..fields.layout import EvenOddLayout


class CupyBackend(Backend):
    name = "cupy"
    description = "CUDA GPU (cupy arrays, numba-cuda kernels; NUMBA_ENABLE_CUDASIM=1: numba-cuda's simulator)"
    device_memory = True

    @classmethod
    def check_available(cls):
        device.check()

    def __init__(self, local_rank=0):
        super().__init__(local_rank)
        self.gpu = device.bind(local_rank)
        self.device_name = device.name(self.gpu)
        self.cuda_aware_mpi, how = (False, "") if self.gpu is None else mpi_support.cuda_aware()
        self.halo_path = ("host memory (the simulator's arrays)" if self.gpu is None
                          else f"device memory (CUDA-aware MPI: {how})" if self.cuda_aware_mpi
                          else f"host staging (MPI not CUDA-aware: {how})")
        self.streams = device.Streams()
        self.tune = TuneCache(self.device_name)
        self._compiled, self._tables = {}, {}
        self._ones = self.asarray(np.ones((1, 1, 1), np.float32))       # norms of IEEE fields, phases of phased links
        self.kernels = {name: getattr(self, name) for name in (
            "wilson_hop", "staggered_hop", "wilson_face_pack", "wilson_face_unpack", "site_blocks", "lincomb", "inner",
            "norm2", "block_inner", "block_lincomb")}

    @property
    def xp(self):
        return device.array_module()

    def to_host(self, array):
        return array if self.xp is np else self.xp.asnumpy(array)

    def _norm(self, field):
        return field.norm if field.norm is not None else self._ones[0]

    def synchronize(self):
        if self.gpu is not None:
            self.xp.cuda.Device().synchronize()

    def table(self, host_array):
        if self.xp is np:
            return host_array
        if id(host_array) not in self._tables:                 # the host array is kept, so its id stays its own
            self._tables[id(host_array)] = (host_array, self.asarray(host_array))
        return self._tables[id(host_array)][1]

    # ---- halo traffic: the halo stream; device buffers where MPI is CUDA-aware, else host staging --------
    def halo_context(self):
        return self.streams.on_halo()

    def outgoing(self, array):
        if self.xp is np:
            return super().outgoing(array)
        if self.cuda_aware_mpi:
            array = self.xp.ascontiguousarray(array)
            self.streams.synchronize()
            return array
        return self.xp.asnumpy(array)

    def incoming(self, shape, dtype):
        if self.cuda_aware_mpi:
            return self.xp.empty(shape, dtype)
        if self.xp is np:
            return super().incoming(shape, dtype)
        import cupyx
        return cupyx.empty_pinned(shape, dtype)

    def arrived(self, buffer):
        return self.asarray(buffer)

    # ---- launches ------------------------------------------------------------------------------------
    def _launch(self, key, make_source, sites, *args):
        """Run the kernel of ``key`` (compiled from ``make_source()`` once per process) on ``sites`` sites, in
        the tuned shape (:mod:`.cuda.tune`), on the current stream."""
        if key not in self._compiled:
            self._compiled[key] = rowloop.load(make_source())
        if sites:
            kernel = self._compiled[key]
            threads = self._threads(kernel, key, sites, args)
            device.launch(kernel, *device.shape(sites, threads), args, self.streams.current())

    def _threads(self, kernel, key, sites, args):
        """The tuned threads per block of ``kernel`` on ``sites`` sites; tuning launches it on copies of the
        arrays it may write and puts them back after each trial (QUDA's backup and restore)."""
        arrays, saved = [a for a in args if getattr(a, "ndim", 0)], []

        def trial(threads):
            if not saved:
                saved.extend(a.copy() for a in arrays)
            for a, s in zip(arrays, saved):
                a[...] = s
            device.launch(kernel, *device.shape(sites, threads), args, self.streams.current())
            self.streams.synchronize()

        threads = self.tune.threads(repr(key), sites, device.candidates(), trial)
        for a, s in zip(arrays, saved):
            a[...] = s
        return threads

    def _partials(self, sites):
        """Zero float64 partial sums for the blocks of a launch on ``sites`` sites (enough for the smallest
        block: blocks a launch does not have add zero)."""
        return self.xp.zeros(device.shape(sites, min(device.candidates()))[0])

    # ---- stencils ------------------------------------------------------------------------------------
    def _hop(self, kind, out, psi, links, halo, rows):
        kp, ko = fixed_point(psi), fixed_point(out)
        if kp is None or ko is None:
            return getattr(reference, f"{kind}_hop")(out, psi, links, halo, rows)
        ndir, phased, rec = links.params[0].shape[1], links.phase is not None, links.reconstruct
        ncomp, real = (24 if kind == "wilson" else 6), psi.precision.real_dtype
        lay, p = out.layout, out.parity

        def source():
            link = "L{}_{}".format
            body = wilson.hop(rec, link, phased) if kind == "wilson" else staggered.hop(rec, link, ndir, phased)
            xoff = tuple(EvenOddLayout.lane_shift(d) for d in range(ndir))
            return sources.hop_source(body, ncomp, rec, kp, ko, real.name, xoff, phased)

        phase = self._ones if links.phase is None else links.phase[p]
        self._launch((kind, ndir, phased, rec, kp, ko, real.name), source, len(rows) * lay.xh,
                     out.data, self._norm(out), psi.data, self._norm(psi), halo.cg, halo.cgn, links.params[p],
                     self.table(links.scale), phase, self.table(lay.row_parity[p]), self.table(lay.row_neighbour),
                     self.table(rows),
                     real.type(scale_of(out)))

    def wilson_hop(self, out, psi, links, halo, rows):
        return self._hop("wilson", out, psi, links, halo, rows)

    def staggered_hop(self, out, psi, links, halo, rows):
        return self._hop("staggered", out, psi, links, halo, rows)

    # ---- spin-projected Wilson faces (bitwise the reference's) -------------------------------------------
    def _projector(self, d, real, adjoint):
        """(real, imaginary) parts in ``real`` of S = s B_mu of direction d (or of S^dag), on the device once."""
        key = ("projector", d, np.dtype(real).name, adjoint)
        if key not in self._tables:
            S = reference.projector_block(d)
            S = S.conj().T if adjoint else S
            self._tables[key] = (None, (self.asarray(np.ascontiguousarray(S.real.astype(real))),
                                        self.asarray(np.ascontiguousarray(S.imag.astype(real)))))
        return self._tables[key][1]

    def wilson_face_pack(self, field, rows, d):
        kf = fixed_point(field)
        if kf is None:
            return reference.wilson_face_pack(field, rows, d)
        xh = field.layout.xh
        out = self.empty((rows.size, 12, xh), field.data.dtype)
        outn = self.empty((rows.size, xh), np.float32) if kf else self._ones[0]
        sr, si = self._projector(d, np.result_type(field.precision.real_dtype, np.float32), False)
        compute = sr.dtype.name
        self._launch(("face_pack", kf, compute), lambda: sources.face_pack_source(kf, compute), rows.size * xh,
                     field.data, self._norm(field), self.table(rows), out, outn, scale_of(field), sr, si)
        return out, (outn if kf else None)

    def wilson_face_unpack(self, field, where, data, norm, d):
        kf = fixed_point(field)
        if kf is None:
            return reference.wilson_face_unpack(field, where, data, norm, d)
        tr, ti = self._projector(d, np.float64, True)
        self._launch(("face_unpack", kf), lambda: sources.face_unpack_source(kf), data.shape[0] * data.shape[2],
                     field.data, self._norm(field), where.start, data, norm if kf else self._ones[0], tr, ti,
                     1.0 if kf else 0.5)

    # ---- site term: two 6x6 blocks per site, in the blocks' real type ------------------------------------
    def site_blocks(self, out, x, blocks):
        kx, ko = fixed_point(x), fixed_point(out)
        if kx is None or ko is None:
            return reference.site_blocks(out, x, blocks)
        compute, sites = blocks.dtype.name, out.layout.half_volume
        self._launch(("site_blocks", kx, ko, compute), lambda: sources.site_blocks_source(kx, ko, compute), sites,
                     out.data, self._norm(out), x.data, self._norm(x), blocks, scale_of(out), out.layout.nrows)

    # ---- BLAS-1: float64 arithmetic, float64 sums per block ------------------------------------------
    def lincomb(self, out, coeffs, fields, accumulate=False, norm=False):
        kinds, ko = tuple(fixed_point(f) for f in fields), fixed_point(out)
        if None in kinds or ko is None or not fields:
            return reference.lincomb(out, coeffs, fields, accumulate, norm)
        sites = out.layout.half_volume
        partial = self._partials(sites)
        args = [a for f in fields for a in (f.data, self._norm(f))]
        args += [float(x) for v in coeffs for x in (complex(v).real, complex(v).imag)]
        self._launch(("lincomb", kinds, ko, accumulate, norm, out.ncomp),
                     lambda: sources.lincomb_source(kinds, ko, accumulate, norm, out.ncomp), sites,
                     out.data, self._norm(out), *args, scale_of(out), out.layout.nrows, partial)
        return float(partial.sum()) if norm else None

    def inner(self, a, b):
        ka, kb = fixed_point(a), fixed_point(b)
        if ka is None or kb is None:
            return reference.inner(a, b)
        sites = a.layout.half_volume
        pre, pim = self._partials(sites), self._partials(sites)
        self._launch(("reduce", ka, kb), lambda: sources.reduce_source(ka, kb), sites,
                     a.data, self._norm(a), b.data, self._norm(b), a.layout.nrows, pre, pim)
        return complex(float(pre.sum()), float(pim.sum()))

    def norm2(self, a):
        return self.inner(a, a).real

    def block_inner(self, block, x):
        ka, kb = fixed_point(block), fixed_point(x)
        if ka is None or kb is None:
            return reference.block_inner(block, x)
        sites = x.layout.half_volume
        shape = (len(block), self._partials(sites).size)
        pre, pim = self.xp.zeros(shape), self.xp.zeros(shape)
        self._launch(("block_reduce", ka, kb), lambda: sources.block_reduce_source(ka, kb), sites,
                     block.data, self._ones if block.norm is None else block.norm, x.data, self._norm(x),
                     x.layout.nrows, pre, pim)
        return self.to_host(pre).sum(axis=1) + 1j * self.to_host(pim).sum(axis=1)

    def block_lincomb(self, out, coeffs, block, accumulate=False):
        kv, ko = fixed_point(block), fixed_point(out)
        if kv is None or ko is None:
            return reference.block_lincomb(out, coeffs, block, accumulate)
        c = np.array([complex(v) for v in coeffs])
        sites = out.layout.half_volume
        self._launch(("block_lincomb", kv, ko, accumulate, out.ncomp),
                     lambda: sources.block_lincomb_source(kv, ko, accumulate, out.ncomp), sites,
                     out.data, self._norm(out), block.data, self._ones if block.norm is None else block.norm,
                     self.asarray(np.ascontiguousarray(c.real)), self.asarray(np.ascontiguousarray(c.imag)),
                     scale_of(out), out.layout.nrows, self._partials(sites))

    # ---- dense LU ------------------------------------------------------------------------------------
    def dense_kernels(self):
        """The dense blocked LU's kernels: :mod:`hpcmix.dense.gpu`'s on a GPU (the matrix on the device, the
        trailing GEMMs in fp16/bf16/tf32 on tensor cores); the host kernels in the simulator (numpy arrays)."""
        if device.simulated():
            return super().dense_kernels()
        from ..dense.gpu import CupyKernels
        return CupyKernels()
