"""Real services for the end-to-end tests, started and always stopped by these fixtures.

* ``ray_head`` (session): ``ray start --head`` on 127.0.0.1 with every port chosen free at run time (GCS,
  dashboard, client server, node manager, object manager, agents, metrics, worker ports), its own
  ``--temp-dir`` and its own auth token (``RAY_AUTH_MODE=token`` + ``RAY_AUTH_TOKEN_PATH``: nothing is
  read from or written to ``~/.ray``). ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes this single-node
  cluster use 127.0.0.1 as its node address, so its core ports listen on loopback only (without it Ray
  rewrites ``--node-ip-address 127.0.0.1`` to the machine's routable address and binds ``*``).
* ``mlflow_server`` (session) and ``new_mlflow_server`` (factory): ``mlflow server`` on 127.0.0.1, a
  sqlite backend and a local artifact folder, ready when ``/health`` answers; ``stop()`` / ``start()``
  keep the port and the backend (the "server goes away" fault).
* ``chromium``: the headless browser ``.ci/run`` installs; missing → the test FAILS with how to install it.

Every process is started with a unique ``SCRAPL_E2E_TAG`` in its environment, which Ray passes on to its
daemons, workers and job drivers. Stopping a service sends SIGTERM, then SIGKILL after a grace period
(``gcs_server`` ignores SIGTERM), to exactly the processes carrying its tag: never ``ray stop`` (it kills
every Ray process of the machine by name) nor anything matched by name. The environment of every command
is built explicitly here; the test process's own environment is not modified.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the project's virtualenv
ARTIFACTS = REPO / "test-artifacts"  # git-ignored; CI keeps screenshots here
TAG = "SCRAPL_E2E_TAG"
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")

# variables of the caller that must not leak into the services (a developer's own cluster or server)
_DROP = (
    "RAY_ADDRESS",
    "RAY_API_SERVER_ADDRESS",
    "RAY_AUTH_MODE",
    "RAY_AUTH_TOKEN",
    "RAY_AUTH_TOKEN_PATH",
    "MLFLOW_TRACKING_URI",
    "SCRAPL_STUDY_ROOT",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
)


def pytest_collection_modifyitems(config, items):
    """End-to-end tests last, whatever the invocation: their session-scoped cluster and server then start
    late and are stopped right after them, instead of idling through the rest of a plain ``pytest``.
    (``make test`` runs them in a separate, serial pass: ``pytest -m e2e``; each xdist worker would
    start a cluster of its own.)"""
    e2e = [item for item in items if item.get_closest_marker("e2e")]
    if e2e:
        items[:] = [item for item in items if not item.get_closest_marker("e2e")] + e2e


# --- processes ---------------------------------------------------------------------------------------
def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _proc_table() -> dict[int, tuple[int, int, bool]]:
    """``{pid: (ppid, session id, tagged env?)}`` of the live processes; ``tagged`` is filled by the caller."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":  # zombies are gone already (their parent has not reaped them yet)
            table[int(entry)] = (int(fields[1]), int(fields[3]))
    return table


def _tagged(pid: int, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


def our_pids(tag: str, sids: set[int]) -> list[int]:
    """The live processes of one service: those whose environment holds ``SCRAPL_E2E_TAG=<tag>``, every
    member of the sessions we started for it (``sids``) or that its tagged processes started (a Ray job
    driver gets a session of its own), and their descendants. Ray renames many of its processes
    (``ray::DashboardAgent``, ``ray::IDLE``), which can overwrite their environment in /proc: the session
    catches those. The test process, its ancestors and its own session are never included."""
    table = _proc_table()
    needle = f"{TAG}={tag}".encode()
    mine, protected = os.getsid(0), {0, 1}
    pid = os.getpid()
    while pid in table and pid not in protected:  # this process and its ancestors
        protected.add(pid)
        pid = table[pid][0]
    tagged = {p for p in table if p not in protected and _tagged(p, needle)}
    sessions = (set(sids) | {table[p][1] for p in tagged}) - {mine, 0, 1}
    ours = tagged | {p for p, (_, sid) in table.items() if sid in sessions}
    grew = True
    while grew:  # descendants
        more = {p for p, (ppid, _) in table.items() if ppid in ours} - ours
        grew = bool(more)
        ours |= more
    return sorted(ours - protected)


def kill_ours(tag: str, sids: set[int], grace_s: float = 5.0) -> list[int]:
    """SIGTERM a service's processes (``our_pids``), SIGKILL what is left after ``grace_s``; wait until all
    are gone. Returns every pid that was signalled."""
    seen: set[int] = set()
    deadline = time.time() + grace_s
    while True:
        pids = our_pids(tag, sids)
        if not pids:
            return sorted(seen)
        seen.update(pids)
        sig = signal.SIGTERM if time.time() < deadline else signal.SIGKILL
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if time.time() > deadline + 20:
            raise RuntimeError(f"processes {pids} (tag {tag}) survive SIGKILL")
        time.sleep(0.5)


def base_env(tag: str, **extra: str) -> dict[str, str]:
    """The explicit environment of a service or CLI call of these tests."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
            TAG: tag,
        }
    )
    env.update(extra)
    return env


def http_get(url: str, headers: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- Ray ---------------------------------------------------------------------------------------------
class RayHead:
    """A ``ray start --head`` cluster of this test session (see the module docstring)."""

    def __init__(self, workdir: Path, num_cpus: int = 2, node_ip: str | None = None) -> None:
        """``node_ip``: None = the single-machine mode above (node address and core ports on 127.0.0.1;
        no other node can join). A loopback address other than 127.0.0.1 (e.g. 127.0.0.2) = Ray's
        multi-node mode with that node address, so ``RayWorkerNode``s can join (``ray start`` rewrites
        127.0.0.1 itself to the routable address); the core ports then listen on all interfaces,
        protected by the token."""
        self.workdir = workdir
        self.node_ip = node_ip or "127.0.0.1"
        self.tag = f"ray-{uuid.uuid4().hex}"
        self.token = secrets.token_hex(32)
        self.token_file = workdir / "auth_token"
        self.token_file.write_text(self.token)
        self.token_file.chmod(0o600)
        self.temp_dir = workdir / "ray"  # short: Ray's unix sockets live under it
        (gcs, dash, client, nm, om, metrics, agent, agent_grpc, renv, autoscaler_metrics, dash_metrics, *_) = (
            free_ports(11)
        )
        self.gcs_port, self.dashboard_port = gcs, dash
        self.address = f"{self.node_ip}:{gcs}"
        self.dashboard = f"http://127.0.0.1:{dash}"
        self.env = base_env(
            self.tag,
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(self.token_file),
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0" if node_ip is None else "1",
            AUTOSCALER_METRIC_PORT=str(autoscaler_metrics),
            DASHBOARD_METRIC_PORT=str(dash_metrics),
        )
        self.start_args = [
            str(BIN / "ray"),
            "start",
            "--head",
            "--node-ip-address",
            self.node_ip,
            "--port",
            str(gcs),
            "--dashboard-host",
            "127.0.0.1",
            "--dashboard-port",
            str(dash),
            "--ray-client-server-port",
            str(client),
            "--node-manager-port",
            str(nm),
            "--object-manager-port",
            str(om),
            "--metrics-export-port",
            str(metrics),
            "--dashboard-agent-listen-port",
            str(agent),
            "--dashboard-agent-grpc-port",
            str(agent_grpc),
            "--runtime-env-agent-port",
            str(renv),
            "--min-worker-port",
            "0",
            "--max-worker-port",
            "0",
            "--num-cpus",
            str(num_cpus),
            "--temp-dir",
            str(self.temp_dir),
            "--disable-usage-stats",
        ]
        self.started_s = 0.0
        self.sids: set[int] = set()

    def start(self) -> None:
        tic = time.time()
        proc = subprocess.Popen(
            self.start_args,
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sids.add(proc.pid)  # the daemons `ray start` leaves behind stay in this session
        out, _ = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed ({proc.returncode}):\n{out}")
        deadline = time.time() + 60
        while self.api("/api/version")[0] != 200:
            if time.time() > deadline:
                raise RuntimeError(f"Ray dashboard {self.dashboard} did not come up:\n{out}")
            time.sleep(0.5)
        self.started_s = time.time() - tic

    def pids(self) -> list[int]:
        return our_pids(self.tag, self.sids)

    def stop(self) -> list[int]:
        return kill_ours(self.tag, self.sids)

    # --- job API (REST with the bearer token; the CLI for submit/stop, as a user does) ---------------
    def api(self, path: str, *, token: bool = True) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        try:
            return http_get(self.dashboard + path, headers)
        except OSError:
            return 0, b""

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "ray"), *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout
        )

    def submit(
        self, entrypoint: list[str], *, submission_id: str | None = None, env_vars: dict[str, str] | None = None
    ) -> str:
        """``ray job submit --no-wait --working-dir . -- <entrypoint>`` from the repo; returns the job id."""
        submission_id = submission_id or f"e2e-{uuid.uuid4().hex[:10]}"
        runtime_env = {
            "env_vars": {"RAY_JOB_STOP_SIGNAL": "SIGINT", "RAY_JOB_STOP_WAIT_TIME_S": "30", **(env_vars or {})}
        }
        out = self.cli(
            "job",
            "submit",
            "--address",
            self.dashboard,
            "--no-wait",
            "--submission-id",
            submission_id,
            "--working-dir",
            ".",
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            *entrypoint,
        )
        assert out.returncode == 0, f"ray job submit failed:\n{out.stdout}\n{out.stderr}"
        return submission_id

    def job(self, job_id: str) -> dict:
        code, body = self.api(f"/api/jobs/{job_id}")
        assert code == 200, f"GET /api/jobs/{job_id}: HTTP {code} {body[:300]!r}"
        return json.loads(body)

    def logs(self, job_id: str) -> str:
        code, body = self.api(f"/api/jobs/{job_id}/logs")
        return json.loads(body).get("logs", "") if code == 200 else f"<no logs: HTTP {code}>"

    def wait(self, job_id: str, timeout: float = 420, until=TERMINAL) -> dict:
        deadline = time.time() + timeout
        while True:
            info = self.job(job_id)
            if info["status"] in until:
                return info
            if time.time() > deadline:
                raise AssertionError(
                    f"job {job_id} still {info['status']} after {timeout:.0f} s; logs:\n" + self.logs(job_id)[-6000:]
                )
            time.sleep(1.0)

    def wait_until(self, job_id: str, condition, what: str, timeout: float = 300, poll: float = 0.2):
        """Poll ``condition()`` until it returns something truthy (returned); fail with the job's logs when
        the job ends first or ``timeout`` runs out."""
        deadline = time.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            info = self.job(job_id)
            if info["status"] in TERMINAL:
                raise AssertionError(f"the job ended ({info['status']}) before {what}:\n{self.logs(job_id)[-5000:]}")
            if time.time() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs(job_id)[-5000:]}")
            time.sleep(poll)

    def stop_job(self, job_id: str) -> subprocess.CompletedProcess:
        return self.cli("job", "stop", "--address", self.dashboard, job_id, timeout=120)

    def study_entry(self, *args: str) -> list[str]:
        return ["python", "-m", "study", *args]

    def node(self, node_ip: str) -> dict | None:
        """The ALIVE node of this cluster with address ``node_ip`` (Ray's state API, through the CLI)."""
        out = self.cli(
            "list", "nodes", "--address", self.dashboard, "--format", "json", "--filter", "state=ALIVE", timeout=60
        )
        try:
            nodes = json.loads(out.stdout) if out.returncode == 0 else []
        except json.JSONDecodeError:
            nodes = []
        return next((n for n in nodes if n.get("node_ip") == node_ip), None)


class RayWorkerNode:
    """A worker node joined to a multi-node ``RayHead`` (``ray start --address``) on this machine: its own
    loopback node address, ``--temp-dir``, free ports, tag and ``--resources`` (fake GPUs with
    ``num_gpus``: Ray only counts them). ``kill()`` SIGKILLs exactly its processes (raylet, agents,
    workers) at once, as when the machine dies; never ``ray stop``."""

    def __init__(
        self,
        head: RayHead,
        workdir: Path,
        node_ip: str,
        *,
        num_cpus: int = 1,
        num_gpus: int = 0,
        resources: dict[str, float] | None = None,
    ) -> None:
        assert head.node_ip != "127.0.0.1", "a worker node can only join a multi-node head (RayHead(node_ip=...))"
        self.head, self.node_ip = head, node_ip
        self.tag = f"ray-worker-{uuid.uuid4().hex}"
        self.temp_dir = workdir / f"ray-{node_ip.rsplit('.', 1)[-1]}"
        self.resources = dict(resources or {})
        nm, om, metrics, agent, agent_grpc, renv = free_ports(6)
        self.env = base_env(
            self.tag,
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(head.token_file),
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="1",
        )
        self.start_args = [
            str(BIN / "ray"),
            "start",
            "--address",
            head.address,
            "--node-ip-address",
            node_ip,
            "--node-manager-port",
            str(nm),
            "--object-manager-port",
            str(om),
            "--metrics-export-port",
            str(metrics),
            "--dashboard-agent-listen-port",
            str(agent),
            "--dashboard-agent-grpc-port",
            str(agent_grpc),
            "--runtime-env-agent-port",
            str(renv),
            "--min-worker-port",
            "0",
            "--max-worker-port",
            "0",
            "--num-cpus",
            str(num_cpus),
            "--num-gpus",
            str(num_gpus),
            "--resources",
            json.dumps(self.resources),
            "--temp-dir",
            str(self.temp_dir),
            "--disable-usage-stats",
        ]
        self.sids: set[int] = set()
        self.node_id: str | None = None

    def start(self, timeout: float = 120) -> None:
        proc = subprocess.Popen(
            self.start_args,
            env=self.env,
            cwd=self.head.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sids.add(proc.pid)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as err:
            self.stop()
            raise RuntimeError(f"ray start --address {self.head.address} did not return in {timeout:.0f} s") from err
        if proc.returncode != 0:
            raise RuntimeError(f"ray start --address {self.head.address} failed ({proc.returncode}):\n{out}")
        deadline = time.time() + 60
        while (node := self.head.node(self.node_ip)) is None:
            if time.time() > deadline:
                raise RuntimeError(f"worker node {self.node_ip} did not join the cluster:\n{out}")
            time.sleep(0.5)
        self.node_id = node["node_id"]

    def pids(self) -> list[int]:
        return our_pids(self.tag, self.sids)

    def kill(self) -> list[int]:
        """SIGKILL every process of this node at once (no SIGTERM first: nothing may clean up)."""
        return kill_ours(self.tag, self.sids, grace_s=0)

    def stop(self) -> list[int]:
        return kill_ours(self.tag, self.sids)


@pytest.fixture(scope="session")
def ray_head():
    workdir = Path(tempfile.mkdtemp(prefix="scrapl-e2e-", dir="/tmp"))
    head = RayHead(workdir)
    try:
        head.start()
        yield head
    finally:
        try:
            head.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def ray_cluster(tmp_path_factory):
    """A two-node cluster on this machine, for one test (it may kill the worker): a head (1 CPU, node
    address 127.0.0.2, where ``ray job submit`` runs the driver) and a worker node (1 CPU, 2 fake GPUs,
    resource ``e2e_worker``, node address 127.0.0.3). Yields ``(head, worker)``."""
    workdir = Path(tempfile.mkdtemp(prefix="scrapl-e2e-mn-", dir="/tmp"))
    head = RayHead(workdir, num_cpus=1, node_ip="127.0.0.2")
    worker = RayWorkerNode(head, workdir, "127.0.0.3", num_cpus=1, num_gpus=2, resources={"e2e_worker": 1})
    try:
        head.start()
        worker.start()
        yield head, worker
    finally:
        try:
            worker.stop()
            head.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# --- PostgreSQL --------------------------------------------------------------------------------------------
def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (``/usr/lib/postgresql/<version>/bin``), or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


class Postgres:
    """A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, listening on 127.0.0.1 only (a free
    port; its unix socket in the folder), password authentication, one database ``mlflow``. PostgreSQL
    refuses to run as root: as root the folder is handed to Debian's ``postgres`` user and every server
    command runs as that user (``runuser -u postgres --``); otherwise as the current user. ``stop()`` /
    ``start()`` keep the port and the data (the "database restarted" fault)."""

    USER, DB = "scrapl", "mlflow"

    def __init__(self, workdir: Path) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            pytest.fail(
                "PostgreSQL is not installed: the tests need Debian's `postgresql` package "
                "(`make postgres`, which `make test` runs)",
                pytrace=False,
            )
        self.workdir = workdir
        self.data = workdir / "data"
        self.log = workdir / "postgres.log"
        self.port = free_ports(1)[0]
        self.password = secrets.token_hex(16)
        self.tag = f"postgres-{uuid.uuid4().hex}"
        self.env = base_env(self.tag, PGPASSWORD=self.password)
        self.as_root = os.geteuid() == 0
        self.sids: set[int] = set()
        self.starts: list[float] = []

    @property
    def uri(self) -> str:
        # SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3; the test extras install psycopg2
        return f"postgresql+psycopg2://{self.USER}:{self.password}@127.0.0.1:{self.port}/{self.DB}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sids.add(proc.pid)  # the postmaster pg_ctl leaves behind stays in this session
        out, _ = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.is_file() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}):\n{out}\n{log}")
        return subprocess.CompletedProcess(cmd, proc.returncode, out, "")

    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.as_root:
            import pwd

            pw = pwd.getpwnam("postgres")
            for path in (self.workdir, pwfile):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self.workdir.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.USER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> None:
        tic = time.time()
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start")
        self.starts.append(time.time() - tic)

    def create_db(self) -> None:
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.USER, password=self.password, dbname="postgres"
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {self.DB}")
        finally:
            conn.close()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        kill_ours(self.tag, self.sids)


@pytest.fixture(scope="session")
def new_postgres():
    """Factory: a started throwaway PostgreSQL cluster (``Postgres``) with an empty ``mlflow`` database;
    all are stopped and removed at the end of the session."""
    workdir = Path(tempfile.mkdtemp(prefix="scrapl-pg-", dir="/tmp"))
    workdir.chmod(0o711)  # the postgres user must reach its folders inside
    clusters: list[Postgres] = []

    def make() -> Postgres:
        pg = Postgres(workdir / f"pg{len(clusters)}")
        clusters.append(pg)
        pg.init()
        pg.start()
        pg.create_db()
        return pg

    try:
        yield make
    finally:
        try:
            for pg in clusters:
                pg.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(new_postgres):
    return new_postgres()


# --- SLURM ---------------------------------------------------------------------------------------------
class Slurm:
    """A single-node SLURM cluster of this machine (Debian's slurmctld + slurmd, ``munged`` for its
    authentication), configured in a temporary folder (``SLURM_CONF``): its own ports, state and spool
    folders and munge key and socket; nothing under /etc is read or written. Needs root (slurmd runs jobs
    as their users; munged runs as Debian's ``munge`` user). ``env`` is what ``sbatch``/``srun`` need."""

    def __init__(self, workdir: Path) -> None:
        missing = [b for b in ("slurmctld", "slurmd", "sbatch", "munged", "mungekey") if shutil.which(b) is None]
        if missing:
            pytest.fail(
                f"SLURM is not installed ({', '.join(missing)} missing): `make slurm` installs Debian's "
                "slurmctld, slurmd and munge (`make test` runs it)",
                pytrace=False,
            )
        self.workdir = workdir
        self.conf = workdir / "slurm.conf"
        self.tag = f"slurm-{uuid.uuid4().hex}"
        self.munge_socket = workdir / "munge" / "munge.sock"
        self.env = base_env(self.tag, SLURM_CONF=str(self.conf))
        self.sids: set[int] = set()
        self.host = socket.gethostname().split(".")[0]

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen:
        with open(self.workdir / log, "w") as out:
            proc = subprocess.Popen(
                args, env=self.env, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.sids.add(proc.pid)
        return proc

    def start(self, timeout: float = 60) -> None:
        import pwd

        munge = pwd.getpwnam("munge")
        mdir = self.munge_socket.parent
        mdir.mkdir(parents=True)
        key = mdir / "munge.key"
        subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
        for path in (mdir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        mdir.chmod(0o755)
        self._spawn(
            [
                "runuser",
                "-u",
                "munge",
                "--",
                "munged",
                "--foreground",
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={mdir / 'munged.pid'}",
                f"--log-file={mdir / 'munged.log'}",
                f"--seed-file={mdir / 'munged.seed'}",
            ],
            "munged.out",
        )
        ctld_port, d_port = free_ports(2)
        for sub in ("state", "spool"):
            (self.workdir / sub).mkdir()
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=scrapl-e2e",
                    f"SlurmctldHost={self.host}(127.0.0.1)",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={d_port}",
                    f"StateSaveLocation={self.workdir / 'state'}",
                    f"SlurmdSpoolDir={self.workdir / 'spool'}",
                    f"SlurmctldPidFile={self.workdir / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.workdir / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.workdir / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.workdir / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SchedulerType=sched/builtin",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    "JobAcctGatherType=jobacct_gather/none",
                    f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN",
                    "PartitionName=e2e Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        deadline = time.time() + timeout
        while not self.munge_socket.exists():
            if time.time() > deadline:
                raise RuntimeError(f"munged did not start:\n{(self.workdir / 'munged.out').read_text()[-2000:]}")
            time.sleep(0.2)
        self._spawn(["slurmctld", "-D", "-f", str(self.conf)], "slurmctld.out")
        self._spawn(["slurmd", "-D", "-f", str(self.conf)], "slurmd.out")
        while self.state() != "idle":
            if time.time() > deadline:
                logs = "".join(
                    (self.workdir / f).read_text()[-1500:]
                    for f in ("slurmctld.log", "slurmd.log")
                    if (self.workdir / f).is_file()
                )
                raise RuntimeError(f"SLURM did not come up (node {self.state()!r}):\n{logs}")
            time.sleep(0.5)

    def state(self) -> str:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def sbatch(
        self, script: Path, args: list[str], *, options: list[str], env: dict[str, str], timeout: float = 480
    ) -> tuple[int, str, list[int]]:
        """``sbatch --wait`` of ``script`` with ``args``; returns (exit status, the job's log, the pids of the
        job's processes still alive when it returned). Those are then killed: the job's processes carry a
        tag of their own (SLURM passes the environment on)."""
        tag = f"slurm-job-{uuid.uuid4().hex}"
        log = self.workdir / f"{tag}.log"
        proc = subprocess.Popen(
            ["sbatch", "--wait", f"--output={log}", *options, str(script), *args],
            env={**self.env, **env, TAG: tag},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            subprocess.run(["scancel", "--full", "--signal=KILL", "--user=root"], env=self.env, timeout=30)
            proc.kill()
            out, _ = proc.communicate()
        deadline = time.time() + 60  # slurmd ends what is left of the job's steps (KillWait 30 s)
        while our_pids(tag, set()) and time.time() < deadline:
            time.sleep(1)
        left = our_pids(tag, set())
        kill_ours(tag, set())
        text = log.read_text() if log.is_file() else ""
        return proc.returncode, out + text, left

    def pids(self) -> list[int]:
        return our_pids(self.tag, self.sids)

    def stop(self) -> list[int]:
        return kill_ours(self.tag, self.sids)


@pytest.fixture(scope="session")
def slurm():
    """A started single-node ``Slurm`` cluster for the session (root only); stopped at the end."""
    if os.geteuid() != 0:
        pytest.skip("a SLURM cluster needs root (slurmd runs jobs as their users; munged as `munge`)")
    workdir = Path(tempfile.mkdtemp(prefix="scrapl-slurm-", dir="/tmp"))
    workdir.chmod(0o755)  # munged (user munge) reaches its folder inside
    cluster = Slurm(workdir)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# --- MLflow ------------------------------------------------------------------------------------------
class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a local artifact folder and a sqlite backend (or
    ``backend_uri``, e.g. a PostgreSQL database)."""

    def __init__(self, workdir: Path, backend_uri: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_ports(1)[0]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "mlflow.db"
        self.backend_uri = backend_uri or f"sqlite:///{self.db}"
        self.artifacts = workdir / "mlartifacts"
        self.log = workdir / "server.log"
        self.tag = f"mlflow-{uuid.uuid4().hex}"
        self.env = base_env(self.tag, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        self.starts: list[float] = []
        self.sids: set[int] = set()
        self._procs: list[subprocess.Popen] = []

    @property
    def args(self) -> list[str]:
        return [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            self.backend_uri,
            "--artifacts-destination",
            str(self.artifacts),
        ]

    def healthy(self) -> bool:
        try:
            return http_get(self.uri + "/health", timeout=2)[0] == 200
        except OSError:
            return False

    def start(self, timeout: float = 90) -> None:
        assert not self.healthy(), f"something already answers on {self.uri}"
        tic = time.time()
        with open(self.log, "a") as log:
            proc = subprocess.Popen(
                self.args, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.sids.add(proc.pid)
        self._procs.append(proc)
        while not self.healthy():
            if proc.poll() is not None or time.time() - tic > timeout:
                self.stop()
                raise RuntimeError(f"mlflow server did not come up on {self.uri}:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.5)
        self.starts.append(time.time() - tic)

    def pids(self) -> list[int]:
        return our_pids(self.tag, self.sids)

    def stop(self) -> list[int]:
        pids = kill_ours(self.tag, self.sids)
        for proc in self._procs:
            proc.wait(timeout=10)
        deadline = time.time() + 10
        while self.healthy() and time.time() < deadline:
            time.sleep(0.2)
        return pids

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.uri)


@pytest.fixture(scope="session")
def new_mlflow_server(tmp_path_factory):
    """Factory: a started ``MlflowServer`` in a fresh directory; all are stopped at the end of the session."""
    servers: list[MlflowServer] = []

    def make(backend_uri: str | None = None) -> MlflowServer:
        server = MlflowServer(tmp_path_factory.mktemp("mlflow"), backend_uri)
        servers.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for s in servers:
            s.stop()


def trial_runs_by_status(uri: str, name: str) -> dict[str, list]:
    """``{status: [trial runs]}`` of a study while it runs ({} before its experiment exists)."""
    from mlflow.tracking import MlflowClient

    from analysis import schema

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + name)
    if exp is None:
        return {}
    out: dict[str, list] = {}
    for r in client.search_runs([exp.experiment_id], f"tags.`{schema.ROLE}` = '{schema.ROLE_TRIAL}'", max_results=1000):
        out.setdefault(r.info.status, []).append(r)
    return out


@pytest.fixture
def runs_by_status():
    """``runs_by_status(uri, study)``: ``{status: [trial runs]}`` of a study while it runs."""
    return trial_runs_by_status


@pytest.fixture(scope="session")
def mlflow_server(new_mlflow_server):
    return new_mlflow_server()


@pytest.fixture(scope="session")
def pg_mlflow_server(new_mlflow_server, postgres):
    """``mlflow server`` with the session's PostgreSQL database as its backend store."""
    return new_mlflow_server(postgres.uri)


# --- Chromium ----------------------------------------------------------------------------------------------
class Chromium:
    """Headless Chromium (Debian's package) with a fresh profile and no background network. Every call's
    processes carry their own tag and are killed when it returns."""

    FLAGS = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "--hide-scrollbars",
    ]

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, url: str, extra: list[str], budget_ms: int, timeout: float) -> subprocess.CompletedProcess:
        tag = f"chromium-{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="scrapl-chromium-") as profile:
            args = [
                self.binary,
                *self.FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                *extra,
                url,
            ]
            proc = subprocess.Popen(
                args,
                env=base_env(tag, HOME=profile),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            finally:
                kill_ours(tag, {proc.pid}, grace_s=3)
                proc.wait()
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited {proc.returncode}: {stderr.decode(errors='replace')[-3000:]}")
        return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)

    def dom(self, url: str, budget_ms: int = 15000, timeout: float = 120) -> str:
        """The DOM after the page's scripts ran for ``budget_ms`` of virtual time (``--dump-dom``)."""
        return self._run(url, ["--dump-dom"], budget_ms, timeout).stdout.decode(errors="replace")

    def screenshot(
        self, url: str, path: Path, window: str = "1280,720", budget_ms: int = 15000, timeout: float = 120
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run(url, [f"--screenshot={path}", f"--window-size={window}"], budget_ms, timeout)
        assert path.is_file() and path.stat().st_size > 1000, f"no screenshot written to {path}"
        return path


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "chromium is not installed: the MLflow UI test needs Debian's `chromium` package "
            "(`apt-get install -y chromium`; .ci/run installs it)",
            pytrace=False,
        )
    return Chromium(path)
