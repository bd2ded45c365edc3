"""How many elements a stage's chunk of examples holds on a CPU (``JTFSPaths`` with ``batch_chunk=None``).

The path engine cuts the batch into chunks of examples per stage; the best chunk depends on the machine,
and was measured per CPU vendor on the two kinds of machine we run on (interleaved A/B in one process,
a path step at 1 thread, issue 12):

* AMD EPYC (L2 1 MiB per core): ``2**18`` elements was within a few percent of the best chunk of every
  row group at granular batch 32; the whole batch at once was 3x slower on the finest first-order rows.
* Intel Xeon, Sapphire Rapids (L2 2 MiB per core, L3 105 MiB): larger chunks win. Against ``2**18``,
  ``2**21`` took -25 % per path step at granular batch 32 (10 paths), ``2**22`` -21 % and ``2**24`` -3 %;
  at tiny batch 4, where ``2**20`` and up is the whole batch, -11 to -15 %. In microbenchmarks there, MKL's
  batched FFT and numba's modulus ran faster per element on the larger arrays.

Any other vendor keeps ``2**18``. The values do not depend on the chunk, only the speed.
"""

from __future__ import annotations

from pathlib import Path

MEASURED = {"AuthenticAMD": 2**18, "GenuineIntel": 2**21}
DEFAULT = 2**18


def cpu_vendor(cpuinfo: str | None = None) -> str | None:
    """The ``vendor_id`` of the first CPU in ``/proc/cpuinfo`` (or in the text given), None if unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return value.strip() or None
    return None


def chunk_elements(vendor: str | None = None) -> int:
    """Elements (examples x rows x samples) per chunk for this machine's CPU vendor (module docstring)."""
    vendor = cpu_vendor() if vendor is None else vendor
    return DEFAULT if vendor is None else MEASURED.get(vendor, DEFAULT)
