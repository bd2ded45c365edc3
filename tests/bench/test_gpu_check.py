"""bench/gpu_check.py's pieces on the CPU (the script itself needs a GPU and ~8 minutes): one training step
per kind of loss, the timing of a sharing worker, and a clear refusal when CUDA is missing."""

import argparse
import importlib.util
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


@pytest.mark.parametrize("loss", ["scrapl+p-adam+p-saga", "mss-linear", "p-loss"])
def test_a_training_step_moves_the_encoder(loss):
    step = gpu_check.Step("smoke-granular", loss, torch.device("cpu"))
    before = [w.detach().clone() for w in step.encoder.parameters()]
    step()
    assert step.k == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, step.encoder.parameters(), strict=True))
    if loss.startswith("scrapl"):
        assert int(step.optimizer.state["paths"]["seen"].sum()) == 1  # stepped with the drawn path


def test_train_steps_reports_median_and_mean():
    row = gpu_check.train_steps("smoke-granular", "scrapl", torch.device("cpu"), steps=2, warmup=0)
    assert row["steps"] == 2 and 0 < row["step_median_s"] and 0 < row["step_mean_s"]


def test_sharing_worker_counts_steps_in_its_window():
    args = argparse.Namespace(
        device="cpu", preset="smoke-granular", worker_index=1, warmup=0, start_at=time.time(), window=0.3
    )
    out = gpu_check.sharing_worker(args)
    assert out["steps"] >= 1 and out["seconds"] >= 0.3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_refuses_cuda_when_there_is_none(capsys):
    with pytest.raises(SystemExit) as exc:
        gpu_check.main(["--device", "cuda"])
    assert exc.value.code == 2 and "CUDA is not available" in capsys.readouterr().err
