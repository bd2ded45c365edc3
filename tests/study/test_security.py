"""Security defaults of what the study layer starts and loads.

* The embedded Ray runtime (``python -m study run`` without ``--address``) listens on 127.0.0.1 only and
  has no dashboard: every listening socket of the driver and of the Ray processes it started is on
  loopback (Ray's default would bind GCS, raylet, object manager, agents and metrics on all interfaces).
* Checkpoints and every other torch file are loaded with ``weights_only=True``.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, os, socket
from study import cluster
assert cluster.connect("local", num_cpus=1)
import ray
ray.get(ray.remote(lambda: os.getpid()).remote())  # a worker is up too

def family():  # this process and every descendant: {pid: name}
    parent = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                stat = open(f"/proc/{e}/stat").read()
            except OSError:
                continue
            parent[int(e)] = (int(stat.rsplit(")", 1)[1].split()[1]), stat.split("(", 1)[1].rsplit(")", 1)[0])
    ours = {os.getpid()}
    while True:
        more = {p for p, (pp, _) in parent.items() if pp in ours} - ours
        if not more:
            return {p: parent[p][1] for p in ours if p in parent}
        ours |= more

def decode(hex_ip):
    raw = bytes.fromhex(hex_ip)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # /proc/net/tcp*: host-order words
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)

procs = family()
inodes = {}
for pid in procs:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes[link[8:-1]] = pid
    except OSError:
        pass
listening = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and f[9] in inodes:  # LISTEN
            ip, port = f[1].split(":")
            listening.append((procs[inodes[f[9]]], decode(ip), int(port, 16)))
print(json.dumps({"listening": listening, "gcs": ray.get_runtime_context().gcs_address,
                  "env_after": os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}))
ray.shutdown()
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_embedded_runtime_listens_on_loopback_only(tmp_path):
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        start_new_session=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    report = json.loads(out.stdout.strip().splitlines()[-1])
    listening = report["listening"]
    names = {name for name, _, _ in listening}
    assert any("gcs_server" in n for n in names) and any("raylet" in n for n in names), listening
    exposed = [(n, ip, port) for n, ip, port in listening if ip not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert not exposed, f"the embedded Ray runtime listens beyond loopback: {exposed}"
    assert report["gcs"].startswith("127.0.0.1:")
    assert report["env_after"] is None  # the switch is not left set for later connections
    assert 8265 not in {port for _, _, port in listening}  # no dashboard


def _torch_load_calls(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "torch"
        ):
            yield node


def test_every_torch_load_is_weights_only():
    calls = []
    for package in ("study", "trainables", "search_spaces", "analysis", "bench"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in _torch_load_calls(path):
                kw = {k.arg: k.value for k in node.keywords}
                safe = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                calls.append((f"{path.relative_to(REPO)}:{node.lineno}", safe))
    assert calls, "no torch.load found: the checkpoint loader moved?"
    assert any(c.startswith("study/trial.py") for c, _ in calls)  # the trial's checkpoint resume
    unsafe = [c for c, safe in calls if not safe]
    assert not unsafe, f"torch.load without weights_only=True (unpickles arbitrary code): {unsafe}"
