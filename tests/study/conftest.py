"""Shared fixtures of the study tests: one real local Ray runtime for the whole session (each
``ray.init`` costs 5–10 s) with a fake GPU; the reader of the sqlite MLflow stores the studies write
under ``tmp_path`` is ``runs`` (tests/conftest.py). No mocks of Ray or MLflow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _max_overlap(intervals) -> int:
    """The most ``(start, end)`` intervals open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


@pytest.fixture
def max_overlap():
    """``max_overlap(intervals)``: how many trials or tasks ran at the same time."""
    return _max_overlap


@pytest.fixture(scope="session")
def ray_cluster():
    """4 logical CPUs and Ray's fake GPU (``num_gpus=1`` on a CPU-only machine)."""
    import ray

    if ray.is_initialized():  # another test module left one: use ours
        ray.shutdown()
    from study.cluster import loopback_only

    with loopback_only():  # as the study's own embedded runtime: every port on 127.0.0.1
        ray.init(
            address="local",
            num_cpus=4,
            num_gpus=1,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="WARNING",
        )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def subprocess_env():
    """Environment for a child ``python -m study``: its own embedded Ray, quiet, importable repo."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Session:
    """A child process started in its own session; everything in that session (the driver and the
    Ray processes it started) is stopped by pid when the test ends, also on failure."""

    def __init__(self, args: list[str], log: Path, env: dict) -> None:
        self.log = log
        self._fh = open(log, "w")
        self.proc = subprocess.Popen(
            args, cwd=REPO, stdout=self._fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def members(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "-s", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill_driver(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        deadline = time.time() + 20
        while True:
            left = self.members()
            if not left or time.time() > deadline:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM if time.time() < deadline - 10 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        self._fh.close()

    def output(self) -> str:
        self._fh.flush()
        return self.log.read_text()


@pytest.fixture
def child_session(tmp_path, subprocess_env):
    started: list[Session] = []

    def start(*args: str, log_name: str = "child.log") -> Session:
        s = Session([sys.executable, *args], tmp_path / log_name, subprocess_env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
