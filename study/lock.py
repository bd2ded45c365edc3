"""One driver per study: the lock file ``<study>/driver.lock``.

A study started twice at once (a double ``ray job submit``, a resubmit while the first job runs) would
have two drivers train every trial into the same checkpoints and MLflow runs. So every command that
drives a study (``run``, ``resume``, ``sync``) holds the study's lock while it works, and a second one
refuses at once (``StudyBusy``; exit status 5), naming the driver that holds it.

* **Taking it**: the holder's JSON (host, pid, the process's start time, boot id, since, heartbeat,
  Ray job id, command, a random token) is written to a temporary file and *linked* to
  ``driver.lock`` (``os.link`` fails if the name exists, also on NFS): the lock appears whole or not
  at all.
* **Heartbeat**: a daemon thread rewrites the file every ``interval_s`` (temporary file +
  ``os.replace``) with the current time. Before each beat it checks that the lock still carries its
  token; if another driver took it over (this one was judged dead), ``on_lost`` runs once (the
  runner stops its study gracefully).
* **Stale locks** are taken over: on the same host (and boot) when the pid is gone or is another
  process now (a different start time); from another host when the heartbeat is older than
  ``timeout_s`` (default 60 s; the hosts' clocks must agree to a few seconds, as NTP keeps them).
  A takeover is serialised by a claim file ``driver.lock.takeover`` created the same way (link): only
  one of several drivers that judged the lock stale replaces it (``os.replace``: never a moment
  without a lock), after judging it stale again; an abandoned claim (older than ``timeout_s``) is
  removed.
* **Release**: the holder removes the file if it still carries its token (``release``; also on
  ``__exit__``). A driver killed with SIGKILL leaves its lock behind: the next driver finds its pid
  gone and takes over.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK_NAME",
    "StudyBusy",
    "LockInfo",
    "DriverLock",
    "acquire",
    "check_free",
    "read_lock",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_INTERVAL_S",
    "BUSY_EXIT",
]

LOCK_NAME = "driver.lock"
CLAIM_SUFFIX = ".takeover"
DEFAULT_TIMEOUT_S = 60.0  # a heartbeat older than this (from another host) means the driver is dead
DEFAULT_INTERVAL_S = 10.0  # seconds between heartbeats
BUSY_EXIT = 5  # exit status of a command refused because another driver runs the study
TIMEOUT_ENV = "SCRAPL_LOCK_TIMEOUT_S"
_RAY_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray for the driver of a `ray job submit` job


class StudyBusy(Exception):
    """Another driver holds the study's lock. Not a ``StudyError``: the input is fine (exit status 5)."""

    def __init__(self, study: str, info: LockInfo, path: Path, timeout_s: float) -> None:
        self.study, self.info, self.path = study, info, path
        super().__init__(_busy_message(study, info, path, timeout_s))


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22); "" unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _command() -> str:
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py":  # python -m PACKAGE
        argv[0] = f"-m {Path(argv[0]).parent.name}"
    return " ".join(["python", *argv])[:500]


def _ray_job_id() -> str:
    try:
        return str(json.loads(os.environ.get(_RAY_JOB_ENV, "{}")).get("metadata", {}).get("job_submission_id") or "")
    except (ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder."""

    host: str
    pid: int
    since: float  # when the driver took the lock (time.time of its host)
    heartbeat: float  # its last heartbeat (time.time of its host)
    token: str
    started: str = ""  # the process's start time on its host (tells a reused pid)
    boot: str = ""  # the host's boot id (a reboot frees every lock of the host)
    ray_job: str = ""  # the Ray job submission id, when the driver is a `ray job submit` job
    command: str = ""

    @classmethod
    def mine(cls, token: str, now: float) -> LockInfo:
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            since=now,
            heartbeat=now,
            token=token,
            started=_start_time(os.getpid()),
            boot=_boot_id(),
            ray_job=_ray_job_id(),
            command=_command(),
        )

    @classmethod
    def from_json(cls, doc: Any) -> LockInfo:
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        return cls(
            host=str(doc["host"]),
            pid=int(doc["pid"]),
            since=float(doc["since"]),
            heartbeat=float(doc["heartbeat"]),
            token=str(doc["token"]),
            started=str(doc.get("started", "")),
            boot=str(doc.get("boot", "")),
            ray_job=str(doc.get("ray_job", "")),
            command=str(doc.get("command", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "since": self.since,
            "heartbeat": self.heartbeat,
            "since_iso": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(self.since)),
            "token": self.token,
            "started": self.started,
            "boot": self.boot,
            "ray_job": self.ray_job,
            "command": self.command,
        }

    def stale_reason(self, timeout_s: float, now: float | None = None) -> str | None:
        """Why this holder is dead (a takeover is safe), or None while it may be alive."""
        now = time.time() if now is None else now
        if self.host == socket.gethostname() and (not self.boot or self.boot == _boot_id()):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return f"its process {self.pid} on this host is gone"
            except PermissionError:  # alive, another user's
                pass
            started = _start_time(self.pid)
            if self.started and started and started != self.started:
                return f"pid {self.pid} on this host is another process now"
            return None
        if self.host == socket.gethostname():
            return "this host has rebooted since"
        age = now - self.heartbeat
        if age > timeout_s:
            return f"its last heartbeat (from host {self.host}) is {age:.0f} s old (more than {timeout_s:g} s)"
        return None


def _busy_message(study: str, info: LockInfo, path: Path, timeout_s: float) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.since))
    beat = max(0.0, time.time() - info.heartbeat)
    job = f" (Ray job {info.ray_job})" if info.ray_job else ""
    stop = (
        f"`ray job stop {info.ray_job}`"
        if info.ray_job
        else f"Ctrl-C in its terminal or `kill -INT {info.pid}` on {info.host}"
    )
    return (
        f"study {study} is already running: driver pid {info.pid} on host {info.host}{job} since {since} "
        f"(last heartbeat {beat:.0f} s ago; command: {info.command or '?'}). One driver at a time: wait for it "
        f"to end (`python -m study status {study}`), or stop it ({stop}) and continue with "
        f"`python -m study resume {study}`. A dead driver's lock ({path}) is taken over by the next command: "
        f"at once on the same host, after {timeout_s:g} s without heartbeat from another host"
    )


def read_lock(path: Path) -> LockInfo | None:
    """The lock at ``path``; None when there is none. An unreadable lock reads as a holder that is long
    dead (its heartbeat = the file's modification time)."""
    try:
        text = path.read_text()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        return LockInfo.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return LockInfo(
            host="?",
            pid=0,
            since=mtime,
            heartbeat=mtime,
            token=f"unreadable-{mtime}",
            command=f"(unreadable lock file: {text[:80]!r})",
        )


def _write_temp(directory: Path, info: LockInfo) -> Path:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{LOCK_NAME}.")
    with os.fdopen(fd, "w") as f:
        json.dump(info.to_json(), f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    return Path(tmp)


def _link_new(path: Path, info: LockInfo) -> bool:
    """Create ``path`` holding ``info`` atomically; False if it exists."""
    tmp = _write_temp(path.parent, info)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


class DriverLock:
    """A held study lock (from ``acquire``) with its heartbeat thread; a context manager."""

    def __init__(
        self,
        path: Path,
        info: LockInfo,
        *,
        interval_s: float,
        on_lost: Callable[[str], None] | None,
        took_over: str | None = None,
    ) -> None:
        self.path, self.info, self.interval_s, self.on_lost = path, info, interval_s, on_lost
        self.took_over = took_over  # why the previous holder was judged dead, when this lock was taken over
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"study-lock-{path.parent.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self.heartbeat():
                return

    def heartbeat(self) -> bool:
        """Refresh the heartbeat; False (and ``on_lost`` once) when the lock is no longer ours."""
        current = read_lock(self.path)
        if current is None or current.token != self.info.token:
            who = "removed" if current is None else f"taken over by pid {current.pid} on host {current.host}"
            self.lost = f"the study's lock {self.path} was {who}"
            self._stop.set()
            if self.on_lost is not None:
                self.on_lost(self.lost)
            return False
        self.info = replace(self.info, heartbeat=time.time())
        tmp = _write_temp(self.path.parent, self.info)
        try:
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        current = read_lock(self.path)
        if current is not None and current.token == self.info.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> DriverLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def check_free(study_dir: str | Path, *, timeout_s: float | None = None) -> None:
    """Raise ``StudyBusy`` when a live driver holds the study's lock (a dead one's lock is fine)."""
    path = Path(study_dir) / LOCK_NAME
    timeout_s = _timeout() if timeout_s is None else timeout_s
    held = read_lock(path)
    if held is not None and held.stale_reason(timeout_s) is None:
        raise StudyBusy(Path(study_dir).name, held, path, timeout_s)


def acquire(
    study_dir: str | Path,
    *,
    timeout_s: float | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
    on_lost: Callable[[str], None] | None = None,
) -> DriverLock:
    """Hold the lock of the study in ``study_dir`` (the directory must exist); ``StudyBusy`` if a live driver
    holds it. A dead holder's lock is taken over (see the module docstring)."""
    study_dir = Path(study_dir)
    path = study_dir / LOCK_NAME
    claim = path.with_name(LOCK_NAME + CLAIM_SUFFIX)
    timeout_s = _timeout() if timeout_s is None else timeout_s
    token = secrets.token_hex(16)
    deadline = time.monotonic() + 10.0  # a takeover by another driver in progress: wait this long for it
    while True:
        mine = LockInfo.mine(token, time.time())
        if _link_new(path, mine):
            return DriverLock(path, mine, interval_s=interval_s, on_lost=on_lost)
        held = read_lock(path)
        if held is None:  # released between our attempt and the read: try again
            continue
        reason = held.stale_reason(timeout_s)
        if reason is None:
            raise StudyBusy(study_dir.name, held, path, timeout_s)
        if not _link_new(claim, mine):  # another driver is taking over right now (or died doing so)
            claimed = read_lock(claim)
            if claimed is not None and claimed.stale_reason(timeout_s) is not None:
                _remove_if(claim, claimed.token)
            elif time.monotonic() > deadline:
                raise StudyBusy(study_dir.name, held if claimed is None else claimed, path, timeout_s)
            time.sleep(0.2)
            continue
        try:
            again = read_lock(path)  # judged again under the claim: the holder may have beaten meanwhile
            if again is not None and again.token == held.token and again.stale_reason(timeout_s) is not None:
                tmp = _write_temp(study_dir, mine)
                os.replace(tmp, path)
                return DriverLock(
                    path,
                    mine,
                    interval_s=interval_s,
                    on_lost=on_lost,
                    took_over=f"driver pid {held.pid} on host {held.host}: {reason}",
                )
        finally:
            _remove_if(claim, token)


def _remove_if(path: Path, token: str) -> None:
    """Remove ``path`` if it still carries ``token`` (renamed aside first, so a newer file is never lost)."""
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    moved = read_lock(aside)
    if moved is not None and moved.token != token:  # a newer file: put it back unless another appeared
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)
