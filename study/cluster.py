"""Connecting to Ray and fitting trial resources to the cluster (before anything is scheduled).

* ``resolve_address``: ``--address`` if given, else ``$RAY_ADDRESS`` (set for ``ray job submit``
  drivers), else ``"local"``: a fresh embedded runtime with this machine's CPUs — never a silent join
  of some running cluster (``ray.init()`` without an address would do that).
* ``loopback_only``: the embedded runtime listens on 127.0.0.1 only. On Linux Ray takes the machine's
  routable address as the node address (even when given 127.0.0.1) and its GCS, raylet, object
  manager, agents and metrics ports listen on all interfaces; Ray's single-machine mode
  (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what it uses on macOS) makes the node address 127.0.0.1 and
  binds every port there. A user who sets that variable gets what they set.
* ``check_address``: an unreachable address fails fast with an error naming ``--address``.
* ``plan_resources``: ``--gpus-per-trial`` on a cluster without GPUs would leave trials PENDING
  forever, so the study says so and runs on CPU; more GPUs (or CPUs) per trial than any node has
  is an error; so is more ``--memory-per-trial`` than any node offers Ray (its ``memory`` resource),
  which otherwise keeps trials from running more of them on a node than its memory holds.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import ray
from ray._private import ray_constants

from study.errors import StudyError

__all__ = [
    "resolve_address",
    "check_address",
    "connect",
    "loopback_only",
    "node_max",
    "plan_resources",
    "SINGLE_MACHINE_ENV",
]

SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": node address 127.0.0.1, ports on loopback


def resolve_address(address: str | None) -> str:
    return address or os.environ.get("RAY_ADDRESS") or "local"


def check_address(address: str, option: str = "--address", timeout: float = 3.0) -> None:
    """Fail fast on addresses that cannot work; ``local`` and ``auto`` are checked by ``ray.init``."""
    if address in ("local", "auto"):
        return
    if address.startswith(("http://", "https://")):
        raise StudyError(
            option,
            f"{address} looks like the dashboard / job-submission address; submit with "
            "`ray job submit --address ADDRESS -- python -m study run ...` (the job then "
            "finds the cluster by itself), or pass the cluster's GCS address host:6379",
        )
    target = address[len("ray://") :] if address.startswith("ray://") else address
    parsed = urlparse(f"//{target}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise StudyError(option, f"expected local, auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise StudyError(
            option,
            f"cannot reach a Ray cluster at {address} ({err}); start one with "
            "`ray start --head --node-ip-address 127.0.0.1` or omit --address for the "
            "embedded local runtime",
        ) from None


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Around ``ray.init(address="local")``: the runtime it starts uses 127.0.0.1 as its node address, so
    every Ray port listens on loopback only (see the module docstring). Ray reads the switch from the
    environment when it is imported (and its daemons inherit the environment), so both are set while
    the runtime starts and restored afterwards (a later connection to a real cluster needs the default)."""
    if SINGLE_MACHINE_ENV in os.environ:  # the user chose
        yield
        return
    previous = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        os.environ.pop(SINGLE_MACHINE_ENV, None)
        ray_constants.ENABLE_RAY_CLUSTER = previous


def connect(address: str, *, num_cpus: int | None = None, verbose: bool = False) -> bool:
    """``ray.init`` unless Ray is already initialised (tests share one runtime). True if started here.

    ``local``: an embedded runtime on 127.0.0.1 only (``loopback_only``), without the dashboard."""
    if ray.is_initialized():
        return False
    kwargs: dict = {"address": address, "log_to_driver": verbose, "logging_level": "WARNING"}
    if address == "local":
        kwargs.update(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
    try:
        with loopback_only() if address == "local" else contextlib.nullcontext():
            ray.init(**kwargs)
    except ConnectionError as err:
        raise StudyError("--address", f"cannot connect to Ray at {address}: {err}") from None
    return True


def node_max(resource: str) -> float:
    """The most of ``resource`` (``"CPU"``, ``"GPU"``, ``"memory"`` in bytes, ...) any alive node of the
    connected cluster has; 0 when none has it."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return float(max((n["Resources"].get(resource, 0.0) for n in nodes), default=0.0))


def describe_resources(resources: dict[str, float]) -> str:
    """``1 CPU, 0.25 GPU, 9 GiB memory`` for the study's header line."""
    return ", ".join(
        f"{v / 2**30:.3g} GiB memory" if k == "memory" else f"{v:g} {k.upper()}" for k, v in resources.items()
    )


def plan_resources(
    cpus_per_trial: float,
    gpus_per_trial: float | None,
    say: Callable[[str], None] = print,
    memory_per_trial: int | None = None,
) -> dict[str, float]:
    """Trial resources fitted to the cluster (see the module docstring)."""
    if memory_per_trial:
        most = node_max("memory")
        if memory_per_trial > most:
            raise StudyError(
                "--memory-per-trial",
                f"{memory_per_trial / 2**30:.2f} GiB is more than any node of the cluster offers Ray "
                f"({most / 2**30:.2f} GiB of its `memory` resource): the trials would wait forever",
            )
    max_cpus, max_gpus = node_max("CPU"), node_max("GPU")
    if cpus_per_trial > max_cpus:
        raise StudyError(
            "--cpus-per-trial",
            f"{cpus_per_trial:g} is more than any node of the cluster has "
            f"({max_cpus:g} CPUs): the trials would wait forever",
        )
    resources = {"cpu": float(cpus_per_trial)}
    if gpus_per_trial:
        if max_gpus == 0:
            say(
                f"note: the Ray cluster has no GPU; --gpus-per-trial {gpus_per_trial:g} is ignored and the "
                "trials run on CPU"
            )
        elif gpus_per_trial > max_gpus:
            raise StudyError(
                "--gpus-per-trial",
                f"{gpus_per_trial:g} is more than any node of the cluster has ({max_gpus:g} GPUs per node)",
            )
        else:
            resources["gpu"] = float(gpus_per_trial)
    if memory_per_trial:
        resources["memory"] = float(memory_per_trial)
    return resources
