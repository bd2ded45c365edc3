"""The per-vendor chunk of the path engine's stages on a CPU (``trainables.core.chunking``)."""

from trainables.core import chunking
from trainables.core.jtfs import JTFSPaths

INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n"
AMD = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"


def test_vendor_is_read_from_cpuinfo_text():
    assert chunking.cpu_vendor(INTEL) == "GenuineIntel"
    assert chunking.cpu_vendor(AMD) == "AuthenticAMD"
    assert chunking.cpu_vendor("processor\t: 0\nCPU implementer\t: 0x41\n") is None  # an ARM cpuinfo
    assert chunking.cpu_vendor("") is None


def test_chunk_per_vendor_as_measured():
    assert chunking.chunk_elements("AuthenticAMD") == 2**18
    assert chunking.chunk_elements("GenuineIntel") == 2**21
    assert chunking.chunk_elements("SomeOtherVendor") == chunking.DEFAULT == 2**18


def test_engine_uses_this_machines_chunk(monkeypatch):
    assert JTFSPaths.CHUNK_ELEMENTS == chunking.chunk_elements(chunking.cpu_vendor())
    monkeypatch.setattr(chunking, "cpu_vendor", lambda cpuinfo=None: "GenuineIntel")
    assert chunking.chunk_elements() == 2**21
