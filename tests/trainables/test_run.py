"""One training run (``trainables.run.Run``): validation draws its SCRAPL paths as configured, and a step
hands the drawn path and the configured P-Adam/P-SAGA toggles to the optimizer."""

import pytest
import torch

from trainables.config import override
from trainables.presets import get_preset
from trainables.run import Run


def smoke(preset="smoke-chirplet-lo-lo", **dotted):
    return override(get_preset(preset), **{"train.epochs": 3, **dotted})


@pytest.mark.parametrize("val_paths", ["uniform", "pi"])
def test_validation_paths_are_uniform_or_drawn_from_pi(val_paths):
    """eval.val_paths: with π on paths 3 and 7, validation draws only those under "pi" and others under
    "uniform" (the default)."""
    cfg = smoke(**{"train.theta_is": True, "train.max_steps": 2, "eval.val_paths": val_paths})
    P = cfg.jtfs_settings().filter_bank.n_paths
    probs = torch.zeros(P, dtype=torch.float64)
    probs[[3, 7]] = 0.5
    run = Run(cfg, probs=probs)
    drawn = []
    real_loss = run._loss
    run._loss = lambda x, theta, theta_hat, seed_hat, path: drawn.append(path) or real_loss(
        x, theta, theta_hat, seed_hat, path
    )
    for purpose in range(4):
        run.evaluate(run.val_split, with_loss=True, purpose=purpose)
    assert len(drawn) >= 8
    assert (set(drawn) <= {3, 7}) == (val_paths == "pi"), drawn


# --- the paper's central ablation is wired through: drawn paths reach the optimizer, toggles reach the build ---


def pathwise_run(steps, **dotted):
    run = Run(smoke(**dotted))
    for _ in range(steps):
        run.train_step()
    return run


def test_the_optimizer_is_stepped_with_the_drawn_paths():
    """After k steps the optimizer's per-path state covers exactly the paths the loss drew (not path 0)."""
    run = pathwise_run(12, **{"train.p_adam": True, "train.p_saga": True})
    drawn = set(torch.nonzero(run.loss.sampler.counts).flatten().tolist())
    assert int(run.loss.sampler.counts.sum()) == 12 and len(drawn) > 1
    shared = run.optimizer.state["paths"]
    assert set(torch.nonzero(shared["seen"]).flatten().tolist()) == drawn
    assert set(torch.nonzero(shared["tau"]).flatten().tolist()) == drawn
    for w in run.encoder.parameters():
        G = run.optimizer.state[w]["G"]
        assert set(torch.nonzero(G.flatten(1).abs().sum(1)).flatten().tolist()) <= drawn
    head = run.optimizer.state[next(run.encoder.parameters())]["G"]
    assert set(torch.nonzero(head.flatten(1).abs().sum(1)).flatten().tolist()) == drawn


@pytest.mark.parametrize("p_adam, p_saga", [(True, False), (False, True), (True, True)])
def test_the_optimizer_gets_the_configured_toggles(p_adam, p_saga):
    run = pathwise_run(0, **{"train.p_adam": p_adam, "train.p_saga": p_saga, "train.pathwise_variant": "paper"})
    group = run.optimizer.param_groups[0]
    assert (group["use_p_adam"], group["use_p_saga"], group["variant"]) == (p_adam, p_saga, "paper")


def test_p_saga_changes_the_weights_of_a_p_adam_run():
    """Same seed, same drawn paths: P-Adam + P-SAGA ends with other weights than P-Adam alone."""
    a = pathwise_run(6, **{"train.p_adam": True})
    b = pathwise_run(6, **{"train.p_adam": True, "train.p_saga": True})
    assert torch.equal(a.loss.sampler.counts, b.loss.sampler.counts)
    assert any(
        not torch.allclose(wa, wb) for wa, wb in zip(a.encoder.parameters(), b.encoder.parameters(), strict=True)
    )
