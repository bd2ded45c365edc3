"""The files attached to a trial's MLflow run, written into a local folder first.

config.json                     the resolved RunConfig (nested, as ``trainables.config.to_dict``)
curves/validation.csv           one row per validation: step + every reported metric
curves/validation.png           θ L1 (total and per parameter) and the training loss against steps
audio/pair<k>_target.wav        test targets ...
audio/pair<k>_reconstruction.wav ... and their reconstructions by the best checkpoint (16-bit PCM)
"""

from __future__ import annotations

import csv
import json
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis import schema

__all__ = ["write_trial_artifacts", "write_curve_csv", "plot_curves", "write_wav"]


def write_curve_csv(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    keys = ["step"] + sorted({k for h in history for k in h} - {"step"})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for h in history:
            w.writerow({k: h.get(k, "") for k in keys})


def plot_curves(path: Path, history: Sequence[Mapping[str, Any]], title: str = "") -> None:
    """θ L1 curves and the training loss; matplotlib's object API (no pyplot global state)."""
    steps = [h["step"] for h in history]
    fig = Figure(figsize=(9, 3.4))  # fixed margins: a layout engine would double the rendering time
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
    ax_l1, ax_loss = fig.subplots(1, 2)
    per_param = sorted(k for k in history[0] if k.startswith(schema.VAL_THETA_L1 + "_")) if history else []
    for key in [schema.VAL_THETA_L1] + per_param:
        ax_l1.plot(
            steps,
            [h.get(key, np.nan) for h in history],
            marker="o",
            ms=3,
            lw=2 if key == schema.VAL_THETA_L1 else 1,
            label="θ L1" if key == schema.VAL_THETA_L1 else f"θ L1 {key[len(schema.VAL_THETA_L1) + 1 :]}",
        )
    ax_l1.axhline(schema.CONVERGENCE_THRESHOLD, color="grey", ls=":", lw=1, label="convergence")
    ax_l1.set(xlabel="step", ylabel="validation θ L1", title="validation θ L1")
    ax_l1.legend(fontsize=7)
    ax_loss.plot(steps, [h.get(schema.TRAIN_LOSS, np.nan) for h in history], marker="o", ms=3, label="train")
    ax_loss.plot(steps, [h.get("val_loss", np.nan) for h in history], marker="o", ms=3, label="validation")
    ax_loss.set(xlabel="step", ylabel="loss", title="loss")
    ax_loss.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Mono 16-bit PCM, peak-normalised to 0.9 (silence stays silent)."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    x = np.nan_to_num(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0:
        x = 0.9 * x / peak
    pcm = np.round(x * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


def write_trial_artifacts(
    out_dir: Path,
    *,
    config: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    examples: np.ndarray | None = None,
    sample_rate: int | None = None,
    title: str = "",
    n_pairs: int = 3,
) -> Path:
    """Write every artifact of a trial into ``out_dir`` (created); ``examples`` is (k, 2, N)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    if history:
        write_curve_csv(out_dir / "curves" / "validation.csv", history)
        plot_curves(out_dir / "curves" / "validation.png", history, title)
    if examples is not None and sample_rate:
        for k, (target, recon) in enumerate(np.asarray(examples)[:n_pairs]):
            write_wav(out_dir / "audio" / f"pair{k}_target.wav", target, sample_rate)
            write_wav(out_dir / "audio" / f"pair{k}_reconstruction.wav", recon, sample_rate)
    return out_dir
