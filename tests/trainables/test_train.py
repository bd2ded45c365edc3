"""The training loop: metrics and reports, exact resume, NaN handling, θ-IS, the CLI. (One ``Run``'s step
and evaluation: ``test_run.py``.)"""

import io
import subprocess
import sys

import pytest
import torch

from analysis import schema
from trainables.config import override
from trainables.presets import get_preset
from trainables.train import NonFiniteLossError, train


def smoke(preset="smoke-chirplet-lo-lo", **dotted):
    return override(get_preset(preset), **{"train.epochs": 3, **dotted})


class Interrupt(Exception):
    pass


def test_reports_once_per_epoch_then_final_metrics():
    calls = []
    result = train(smoke(**{"train.p_adam": True}), lambda step, m, s: calls.append((step, m, s)))
    steps_per_epoch = 78 // 8
    assert [c[0] for c in calls] == [9, 18, 27, 27]
    assert all(isinstance(c[2], dict) for c in calls[:3]) and calls[-1][2] is None
    val = calls[0][1]
    for key in (
        schema.VAL_THETA_L1,
        "val_theta_l1_am",
        "val_theta_l1_fm",
        "val_loss",
        schema.TRAIN_LOSS,
        schema.ELAPSED_S,
        schema.PATH_ENTROPY,
    ):
        assert key in val
    assert val["epoch"] == 1.0 and steps_per_epoch == 9
    final = result.metrics
    for key in (
        schema.TEST_THETA_L1,
        "test_theta_l1_am",
        "test_theta_l1_fm",
        schema.VAL_TOTAL_VARIATION,
        schema.STEPS_PER_SECOND,
    ):
        assert key in final
    curve = [h[schema.VAL_THETA_L1] for h in result.history]
    assert final[schema.VAL_TOTAL_VARIATION] == pytest.approx(
        sum(abs(b - a) for a, b in zip(curve, curve[1:], strict=False)) / 3
    )
    assert result.examples.shape == (3, 2, 4096) and torch.isfinite(result.examples).all()


@pytest.mark.parametrize(
    "dotted",
    [
        {"train.p_adam": True, "train.p_saga": True},  # SGD after P-Adam + P-SAGA, path sampler
        {"train.loss": "mss-random"},  # AdamW, loss with its own random resolutions
    ],
)
def test_interrupted_and_resumed_run_equals_an_uninterrupted_run(dotted):
    cfg = smoke(**dotted)
    full = train(cfg)
    saved = {}

    def crash_after_first_epoch(step, metrics, state):
        if state is not None and step == 9:
            buf = io.BytesIO()
            torch.save(state, buf)  # a real checkpoint: serialised and loaded back safely
            saved["state"] = buf.getvalue()
            raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, crash_after_first_epoch)
    state = torch.load(io.BytesIO(saved["state"]), weights_only=True)
    resumed = train(cfg, resume_state=state)
    for k, v in full.state["model"].items():
        assert torch.equal(v, resumed.state["model"][k]), k
    timing = {schema.STEPS_PER_SECOND}
    assert {k: v for k, v in resumed.metrics.items() if k not in timing} == {
        k: v for k, v in full.metrics.items() if k not in timing
    }
    assert [{k: v for k, v in h.items() if k != schema.ELAPSED_S} for h in resumed.history] == [
        {k: v for k, v in h.items() if k != schema.ELAPSED_S} for h in full.history
    ]


def test_resume_refuses_another_config():
    cfg = smoke(**{"train.p_adam": True})
    state = train(override(cfg, **{"train.max_steps": 9})).state
    with pytest.raises(ValueError, match="different config.*train.max_steps"):
        train(cfg, resume_state=state)


def test_nan_loss_stops_with_the_step():
    with pytest.raises(NonFiniteLossError, match="loss is nan at step 4 \\(SCRAPL path \\d+\\)"):
        train(smoke(**{"train.inject_nan_at_step": 4}))


def test_same_seed_pairs_arms_and_seeds_differ():
    a = train(smoke(**{"train.max_steps": 5, "train.loss": "p-loss"}))
    b = train(smoke(**{"train.max_steps": 5, "train.loss": "p-loss"}))
    c = train(smoke(**{"train.max_steps": 5, "train.loss": "p-loss", "seed": 1}))
    key = schema.TEST_THETA_L1
    assert a.metrics[key] == b.metrics[key] and a.history[-1]["val_loss"] == b.history[-1]["val_loss"]
    assert a.metrics[key] != c.metrics[key]


def test_theta_is_run_uses_the_given_distribution():
    cfg = smoke(**{"train.theta_is": True, "train.max_steps": 6})
    P = cfg.jtfs_settings().filter_bank.n_paths
    probs = torch.zeros(P, dtype=torch.float64)
    probs[[3, 7]] = 0.5
    calls = []
    train(cfg, lambda step, m, s: calls.append(s), probs=probs)
    counts = calls[0]["sampler"]["counts"]
    assert int(counts.sum()) == 6 and set(torch.nonzero(counts).flatten().tolist()) <= {3, 7}


def test_cli_runs_a_smoke_training_and_rejects_bad_fields(tmp_path):
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainables.train",
            "--preset",
            "smoke-chirplet-lo-lo",
            "--loss",
            "p-loss",
            "--max-steps",
            "4",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "final:" in ok.stdout and (tmp_path / "metrics.json").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "trainables.train", "--set", "train.lr=-1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "train.lr: must be > 0" in bad.stderr


# --- TR-808: one-shot targets, audio metrics -------------------------------------------------------
PERCEPTUAL = [
    "test_mss_log_lin",
    "test_jtfs",
    "test_transient_loudness_l1",
    "test_transient_centroid_l1",
    "test_transient_flatness_l1",
    "test_decay_loudness_l1",
    "test_decay_centroid_l1",
    "test_decay_flatness_l1",
]


def test_tr808_smoke_run_reports_the_audio_metrics_of_tables_4_8_9():
    result = train(override(get_preset("smoke-tr808"), **{"train.max_steps": 4, "train.p_adam": True}))
    for key in PERCEPTUAL + [schema.TEST_THETA_L1, "test_theta_l1_osc1_freq"]:
        assert key in result.metrics and result.metrics[key] >= 0, key
    assert len(result.theta_names) == 14


def write_oneshots(root, n, sample_rate=22050):
    """n synthetic one-shots as 16-bit WAV files under root/<kind>/ (a user's folder of recordings)."""
    import wave

    import numpy as np

    from trainables.synths.tr808 import TR808Synth

    synth = TR808Synth(sample_rate=sample_rate, n_samples=sample_rate, max_shift=0, onset=700)
    theta = torch.rand(n, 14, generator=torch.Generator().manual_seed(0))
    audio = synth(theta, torch.arange(n))[:, 0].numpy()
    for i, x in enumerate(audio):
        folder = root / ("kick" if i % 2 else "snare")
        folder.mkdir(parents=True, exist_ok=True)
        pcm = (np.clip(x / np.abs(x).max() * 0.8, -1, 1) * 32767).astype("<i2")
        with wave.open(str(folder / f"hit{i:02d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm.tobytes())


def folder_config(root, **dotted):
    return override(
        get_preset("smoke-tr808"),
        **{
            "data.source": "oneshot-folder",
            "data.oneshot_root": str(root),
            "data.split_sizes": (8, 4, 4),
            "data.batch_size": 4,
            "eval.jtfs": False,
            **dotted,
        },
    )


def test_training_on_a_folder_of_recordings_has_no_theta_metrics(tmp_path):
    write_oneshots(tmp_path, 16)
    result = train(folder_config(tmp_path, **{"train.max_steps": 3}))
    assert schema.TEST_THETA_L1 not in result.metrics and schema.VAL_THETA_L1 not in result.history[-1]
    assert {k for k in PERCEPTUAL if k != "test_jtfs"} <= set(result.metrics)
    assert "val_loss" in result.history[-1]


def test_folder_datasets_fail_with_counts_and_theta_needs(tmp_path):
    write_oneshots(tmp_path, 10)
    with pytest.raises(ValueError, match=r"too few usable audio files.*10 available but .* = 16 requested"):
        train(folder_config(tmp_path))
    with pytest.raises(ValueError, match="^train.loss: p-loss needs the true θ"):
        folder_config(tmp_path, **{"train.loss": "p-loss"})
    with pytest.raises(ValueError, match="^data.oneshot_root: required"):
        override(get_preset("smoke-tr808"), **{"data.source": "oneshot-folder"})
    with pytest.raises(ValueError, match="^data.source"):
        override(get_preset("smoke-tr808"), **{"data.source": "grid"})
