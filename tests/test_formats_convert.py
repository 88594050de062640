"""Format detection, conversion, and agreement between the formats holding the same links."""

import h5py
import numpy as np
import pluggy
import pytest

from hpcmix import hookspecs
from hpcmix.errors import FormatError
from hpcmix.io import plugin
from hpcmix.io.convert import convert, output_format
from hpcmix.io.formats import detect
from hpcmix.io.hdf5_gauge import HDF5GaugeFormat
from hpcmix.io.ildg import ILDGGaugeFormat
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.io.nersc import NERSCGaugeFormat, read_header
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice
from hpcmix.registry import Registry

FORMAT_OF = {"milc": "milc", "nersc": "nersc", "lime": "ildg"}


@pytest.fixture(scope="module")
def registry():
    """A registry with the built-in formats only (independent of the other plugin modules)."""
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="hpcmix.io.plugin")
    return Registry(pm)


def test_every_sample_is_detected(registry, shared_data):
    for folder, name in FORMAT_OF.items():
        for path in sorted((shared_data / "gauge" / folder).iterdir()):
            assert detect(registry, path, "auto").name == name, path
    with pytest.raises(FormatError, match="not a recognized"):
        detect(registry, shared_data / "fermion" / "ksvector.src.sample.l8", "auto")


def test_plaquettes_agree_across_formats_and_with_nersc_headers(shared_data):
    g = shared_data / "gauge"
    pairs = [
        (MILCGaugeFormat(), g / "milc" / "lat.sample.l4444", ILDGGaugeFormat(), g / "lime" / "lat.sample.l4444.ildg"),
        (MILCGaugeFormat(), g / "milc" / "lat.sample.l4448", ILDGGaugeFormat(), g / "lime" / "lat.sample.l4448.scidac"),
        (MILCGaugeFormat(), g / "milc" / "lat.sample.l6666", NERSCGaugeFormat(), g / "nersc" / "lat.sample.l6666_nersc"),
    ]
    for fa, a, fb, b in pairs:
        lattice = Lattice(fa.read_dims(a))
        ga, gb = fa.read(a, lattice), fb.read(b, lattice)
        assert np.abs(ga.U - gb.U).max() < 5e-7, (a, b)
        assert ga.plaquette() == pytest.approx(gb.plaquette(), abs=1e-7)
    header, _ = read_header(g / "nersc" / "lat.sample.l6666_nersc")
    assert ga.plaquette() == pytest.approx(float(header["PLAQUETTE"]), abs=1e-7)
    assert ga.link_trace() == pytest.approx(float(header["LINK_TRACE"]), abs=1e-7)


def test_milc_to_hdf5_to_lime_is_bit_exact(registry, shared_data, tmp_path):
    src = shared_data / "gauge" / "milc" / "lat.sample.l4448"
    h5, ildg = tmp_path / "cfg.h5", tmp_path / "cfg.lime"
    original = convert(registry, src, h5)
    via_h5 = convert(registry, h5, ildg)
    lattice = Lattice([4, 4, 4, 8])
    final = ILDGGaugeFormat().read(ildg, lattice)
    assert np.array_equal(via_h5.U, original.U) and np.array_equal(final.U, original.U)
    assert final.metadata["precision"] == "single"  # the source's precision is kept
    assert HDF5GaugeFormat().read(h5, lattice).plaquette() == original.plaquette()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.h5", "cfg.lime"]  # no temporary files left


def test_double_lime_to_nersc_and_back(registry, shared_data, tmp_path):
    src = shared_data / "gauge" / "lime" / "weak_field.lime"
    out = tmp_path / "weak.nersc"
    gauge = convert(registry, src, out)
    assert read_header(out)[0]["FLOATING_POINT"] == "IEEE64BIG"
    back = convert(registry, out, tmp_path / "weak.ildg")
    assert np.array_equal(back.U, gauge.U)
    assert np.array_equal(ILDGGaugeFormat().read(tmp_path / "weak.ildg", gauge.lattice).U, gauge.U)


def test_convert_errors(registry, shared_data, tmp_path):
    src = shared_data / "gauge" / "milc" / "lat.sample.l4444"
    with pytest.raises(FormatError, match="extension"):
        convert(registry, src, tmp_path / "out.dat")
    with pytest.raises(FormatError, match="unknown format"):
        convert(registry, src, tmp_path / "out.dat", dst_format="gif")
    with pytest.raises(FormatError, match="no such file"):
        convert(registry, tmp_path / "missing", tmp_path / "out.h5")
    out = tmp_path / "out.lime"
    out.write_bytes(b"keep me")
    with pytest.raises(FormatError, match="exists"):
        convert(registry, src, out)
    assert out.read_bytes() == b"keep me"
    convert(registry, src, out, overwrite=True)
    assert ILDGGaugeFormat().sniff(out)
    with pytest.raises(FormatError, match="single precision"):
        convert(registry, shared_data / "gauge" / "lime" / "weak_field.lime", tmp_path / "w.milc", dst_format="milc")
    with pytest.raises(FormatError, match="unknown format 'gif'"):
        convert(registry, src, tmp_path / "x.h5", src_format="gif")


def test_output_format_from_extension_name_or_alias(registry):
    assert output_format(registry, "cfg.milc").name == "milc"
    assert output_format(registry, "cfg.scidac").name == "ildg"
    assert output_format(registry, "cfg.dat", "LIME").name == "ildg"
    assert output_format(registry, "cfg.dat", "Nersc").name == "nersc"
    with pytest.raises(FormatError, match=r"unknown format 'gif'.*aliases: h5 = hpcmix, hdf5 = hpcmix, lime = ildg, "
                                          r"scidac = ildg"):
        output_format(registry, "cfg.dat", "gif")


def test_milc_output_of_double_links_needs_precision_single(registry, shared_data, tmp_path):
    """t_nersc.cfg's third rows are rebuilt in double: MILC cannot hold them unless asked to round."""
    src = shared_data / "gauge" / "nersc" / "t_nersc.cfg"
    out = tmp_path / "t.milc"
    with pytest.raises(FormatError, match="pass --precision single to round them") as info:
        convert(registry, src, out)
    assert info.value.collective
    with pytest.raises(FormatError, match="holds single precision only, not double"):
        convert(registry, src, out, precision="double")
    with pytest.raises(FormatError, match="precision must be one of single, double, not 'half'"):
        convert(registry, src, out, precision="half")
    assert list(tmp_path.iterdir()) == []
    gauge = convert(registry, src, out, precision="single")
    back = MILCGaugeFormat().read(out, gauge.lattice)
    assert np.array_equal(back.U, gauge.U.astype(np.complex64).astype(np.complex128))


def test_precision_double_widens_single_links(registry, shared_data, tmp_path):
    src = shared_data / "gauge" / "milc" / "lat.sample.l4444"
    convert(registry, src, tmp_path / "single.h5")
    gauge = convert(registry, src, tmp_path / "double.h5", precision="double")
    with h5py.File(tmp_path / "single.h5") as single, h5py.File(tmp_path / "double.h5") as double:
        assert single["gauge/U"].dtype == np.complex64 and double["gauge/U"].dtype == np.complex128
        assert np.array_equal(double["gauge/U"][...], gauge.U)


@pytest.mark.filterwarnings("ignore:.*verify = false. loading anyway")    # the per-check warning; the summary is asserted
def test_no_verify_records_the_failed_checks(registry, shared_data, tmp_path):
    bad = tmp_path / "bad.milc"
    data = bytearray((shared_data / "gauge" / "milc" / "lat.sample.l4444").read_bytes())
    data[5000] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="MILC checksum"):
        convert(registry, bad, tmp_path / "checked.h5")
    with pytest.warns(HpcmixWarning, match=r"verification skipped \(--no-verify\), 1 check\(s\) failed; recorded"):
        convert(registry, bad, tmp_path / "out.h5", verify=False)
    with h5py.File(tmp_path / "out.h5") as h5:
        attrs = h5["gauge/U"].attrs
        assert attrs["verification"] == "skipped"
        assert attrs["failed_checks"].startswith("MILC checksum (sum29 sum31) mismatch: file says")
    with pytest.warns(HpcmixWarning, match="verification skipped") as record:
        convert(registry, tmp_path / "out.h5", tmp_path / "out.lime", verify=False)
    assert "no check failed" in str(record[-1].message)
    assert "<failed_checks>none</failed_checks>" in ILDGGaugeFormat().read(tmp_path / "out.lime", Lattice(
        [4, 4, 4, 4])).metadata["xml"]["scidac-record-xml"]
    with pytest.warns(HpcmixWarning, match="format 'nersc' has no place to record it"):
        convert(registry, bad, tmp_path / "out.nersc", verify=False)
