"""The services ``bench/tracking_load.py`` measures: a throwaway PostgreSQL cluster and an ``mlflow server``.

``Postgres(workdir)``: Debian's PostgreSQL (``initdb`` in a temporary folder, 127.0.0.1 only, run as the
``postgres`` user when root; ``make postgres`` installs it), with an empty ``mlflow`` database behind
``uri``. ``Server(workdir, backend, workers)``: ``mlflow server`` on a free local port with ``backend`` as
its store and a local artifact folder, started and health-checked in ``__init__``. ``stop()`` tolerates a
service that is already gone; a service that cannot start ends the bench with its reason (``sys.exit``).
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL cluster in ``workdir`` on 127.0.0.1 (run as ``postgres`` when root)."""

    def __init__(self, workdir: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            sys.exit("PostgreSQL is not installed: run `make postgres` (Debian's postgresql)")
        self.bin, self.workdir = found[-1].parent, workdir
        self.port, self.password = free_port(), secrets.token_hex(16)
        self.uri = f"postgresql+psycopg2://bench:{self.password}@127.0.0.1:{self.port}/mlflow"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.workdir.mkdir(parents=True)
        pwfile = self.workdir / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:  # PostgreSQL refuses root: hand the folder to the postgres user
            pw = pwd.getpwnam("postgres")
            self.workdir.parent.chmod(0o711)
            for p in (self.workdir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.workdir / "data"),
            "-U",
            "bench",
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir} -c max_connections=300"
        self._run(
            "pg_ctl", "-D", str(self.workdir / "data"), "-l", str(self.workdir / "log"), "-o", opts, "-w", "start"
        )
        import psycopg2  # only the PostgreSQL backend needs it

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="bench", password=self.password, dbname="postgres"
        )
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE mlflow")
        conn.close()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.workdir / "data"), "-m", "fast", "-w", "stop")
        except (subprocess.SubprocessError, OSError):
            pass


class Server:
    """``mlflow server`` on 127.0.0.1 with ``backend`` and a local artifact folder."""

    def __init__(self, workdir: Path, backend: str, workers: int) -> None:
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        args = [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--backend-store-uri",
            backend,
            "--artifacts-destination",
            str(workdir / "artifacts"),
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                sys.exit(f"mlflow server on {backend} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=20)
