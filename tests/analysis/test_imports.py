"""`analysis` must work without torch and ray, and must not pay for what a command does not use."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(f"analysis.{p.stem}" for p in (REPO / "analysis").glob("*.py") if p.stem != "__init__") + ["analysis"]

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys

    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "ray"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, _Block())
""")


def _python(code: str, tmp_path: Path, *args: str, block: bool = True) -> subprocess.CompletedProcess:
    paths = [str(REPO)]
    if block:
        (tmp_path / "sitecustomize.py").write_text(BLOCKER)
        paths.insert(0, str(tmp_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    cmd = [sys.executable, *args] if not code else [sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_everything_imports_and_runs_without_torch_and_ray(tmp_path, tiny_csv):
    code = textwrap.dedent(f"""
        import importlib, sys
        for name in ("torch", "ray", "ray.tune"):
            try:
                importlib.import_module(name)
            except ImportError:
                pass
            else:
                raise SystemExit(f"the blocker let {{name}} through")
        for module in {MODULES!r}:
            importlib.import_module(module)
        from analysis.cli import main
        assert main(["table", "deltas", "--csv", {str(tiny_csv)!r}, "--arms", "A,B"]) == 0
        import mlflow.tracking  # the MLflow reader's dependency works without them too
        assert not any(m.split(".")[0] in ("torch", "ray") for m in sys.modules)
        print("OK")
    """)
    res = _python(code, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.rstrip().endswith("OK") and "| B vs A |" in res.stdout
    res = _python("", tmp_path, "-m", "analysis", "table", "ablation", "--help")
    assert res.returncode == 0 and res.stdout.startswith("usage: python -m analysis table ablation"), res.stderr


def test_curves_module_is_numpy_only(tmp_path):
    code = (
        "import sys, analysis.curves; "
        "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'mlflow', 'statsmodels') if m in sys.modules))"
    )
    res = _python(code, tmp_path, block=False)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr


def test_csv_tables_do_not_import_mlflow_or_matplotlib(tmp_path, tiny_csv):
    code = textwrap.dedent(f"""
        import sys
        from analysis.cli import main
        main(["table", "ablation", "--csv", {str(tiny_csv)!r}, "--arms", "A,B", "--format", "latex"])
        main(["plan-seeds", "--csv", {str(tiny_csv)!r}, "--arms", "A,B"])
        print(sorted(m for m in ("mlflow", "matplotlib") if m in sys.modules))
    """)
    res = _python(code, tmp_path, block=False)
    assert res.returncode == 0 and res.stdout.strip().endswith("[]"), res.stderr
