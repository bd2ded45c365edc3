"""One training run's state: ``Run`` builds it, takes one step, validates, tests, and checkpoints it.

``trainables.train`` drives a ``Run`` through its epochs (``train``, ``run_to_end``). A ``Run`` is kept
small and explicit so a checkpoint is exactly ``state_dict()`` (plain tensors and Python values, loadable
with ``torch.load(..., weights_only=True)``) and ``load_state_dict`` continues exactly: same next batch,
same next path, same optimizer state, same random draws. Evaluation (validation θ L1 and loss, the test
metrics of the best checkpoint, the validation curve's total variation and convergence steps) draws from
private random streams, so it never moves the training's. No Ray.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor

from analysis import schema
from analysis.curves import convergence_step, total_variation
from trainables import build
from trainables.config import RunConfig, flatten, from_dict, to_dict
from trainables.data import draw_seed_hat, order_seed

__all__ = ["STATE_VERSION", "NonFiniteLossError", "Run"]

STATE_VERSION = 1


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the run stops, naming the step."""

    def __init__(self, step: int, value: float, path: int | None = None) -> None:
        where = f" (SCRAPL path {path})" if path is not None else ""
        super().__init__(f"loss is {value} at step {step}{where}: stopping the run")
        self.step, self.value, self.path = step, value, path


def _seeded_generator(seed: int, purpose: int) -> torch.Generator:
    """A private CPU generator for one purpose of one run (e.g. the reconstruction seeds, or the
    stateless stream of one validation), disjoint from the data-order streams (epochs < 2**40)."""
    return torch.Generator(device="cpu").manual_seed(order_seed(seed, (1 << 40) + purpose))


class Run:
    """The state of one training run; ``train`` drives it. Kept small and explicit so a checkpoint is
    exactly ``state_dict()``."""

    def __init__(self, cfg: RunConfig, probs: Tensor | None = None) -> None:
        self.cfg = cfg
        self.device = build.resolve_device(cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # initialisation and dropout
        self.synth = build.build_synth(cfg).to(self.device)
        self.theta_names = tuple(self.synth.theta_names)
        self.encoder = build.build_encoder(cfg, len(self.theta_names)).to(self.device)
        data = build.build_data(cfg, len(self.theta_names))
        self.train_split, self.val_split, self.test_split = (data.split(s) for s in ("train", "val", "test"))
        self.has_theta = cfg.has_theta
        self.perceptual = build.build_perceptual(cfg)
        self.val_jtfs = build.build_jtfs_distance(cfg).to(self.device) if cfg.eval.val_jtfs else None
        self.loss = build.build_loss(cfg, probs).to(self.device)
        self.is_scrapl = cfg.train.loss == "scrapl"
        self.is_ploss = cfg.train.loss == "p-loss"
        self.n_paths = self.loss.n_paths if self.is_scrapl else None
        self.optimizer = build.build_optimizer(cfg, self.encoder.parameters(), self.n_paths)
        self.seed_hat_gen = _seeded_generator(cfg.seed, 1)
        self.steps_per_epoch = self.train_split.n_batches(cfg.data.batch_size)
        total = cfg.train.epochs * self.steps_per_epoch
        self.total_steps = min(total, cfg.train.max_steps) if cfg.train.max_steps else total
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.best: dict[str, Any] = {"metric": math.inf, "step": -1, "model": None}
        self.train_loss_sum, self.train_loss_count = 0.0, 0
        self.elapsed_s = 0.0

    # --- checkpoint ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {
            "version": STATE_VERSION,
            "config": to_dict(self.cfg),
            "step": self.step,
            "model": self.encoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "loss": self.loss.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "seed_hat": self.seed_hat_gen.get_state()},
            "history": self.history,
            "best": self.best,
            "train_loss": [self.train_loss_sum, self.train_loss_count],
            "elapsed_s": self.elapsed_s,
        }
        if self.device.type == "cuda":
            state["rng"]["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.is_scrapl:
            state["sampler"] = self.loss.sampler.state_dict()
        return copy.deepcopy(state)

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"resume_state has version {state.get('version')!r}, expected {STATE_VERSION}")
        saved = from_dict(state["config"])
        if saved != self.cfg:
            diff = sorted(k for k, v in _flat(saved).items() if _flat(self.cfg).get(k) != v)
            raise ValueError(f"resume_state was saved with a different config (differs in: {', '.join(diff)})")
        state = copy.deepcopy(state)
        self.encoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss.load_state_dict(state["loss"])
        torch.set_rng_state(state["rng"]["torch"])
        self.seed_hat_gen.set_state(state["rng"]["seed_hat"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        if self.is_scrapl:
            self.loss.sampler.load_state_dict(state["sampler"])
        self.step = int(state["step"])
        self.history, self.best = state["history"], state["best"]
        self.train_loss_sum, self.train_loss_count = state["train_loss"]
        self.elapsed_s = float(state["elapsed_s"])

    # --- one step -----------------------------------------------------------------------------------
    def _loss(
        self, x: Tensor, theta: Tensor | None, theta_hat: Tensor, seed_hat: Tensor, path: int | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """The training loss of one batch, and the reconstruction ``x̂`` (None for P-loss)."""
        if self.is_ploss:
            return self.loss(theta_hat, theta), None
        x_hat = self.synth(theta_hat, seed_hat)
        if self.is_scrapl:
            return self.loss(x_hat, x, path_idx=path), x_hat
        return self.loss(x_hat, x), x_hat

    def train_step(self) -> float:
        cfg = self.cfg
        epoch, b = divmod(self.step, self.steps_per_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = build.learning_rate(cfg, epoch)
        batch = self.train_split.train_batch(cfg.data.batch_size, cfg.seed, epoch, b)
        x, theta = build.targets(batch, self.synth, self.device)
        seed_hat = draw_seed_hat(self.seed_hat_gen, cfg.data.batch_size).to(self.device)
        self.encoder.train()
        loss, _ = self._loss(x, theta, self.encoder(x), seed_hat)
        if cfg.train.inject_nan_at_step == self.step + 1:
            loss = loss * float("nan")
        value = float(loss.detach())
        path = self.loss.last_path if self.is_scrapl else None
        if not math.isfinite(value):
            raise NonFiniteLossError(self.step + 1, value, path)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.train.pathwise:
            self.optimizer.step(path)
        else:
            if build.uses_grad_mult(cfg):
                for w in self.encoder.parameters():
                    if w.grad is not None:
                        w.grad.mul_(cfg.train.grad_mult)
            self.optimizer.step()
        self.step += 1
        self.train_loss_sum += value
        self.train_loss_count += 1
        return value

    # --- evaluation -----------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(
        self, split, with_loss: bool, purpose: int, perceptual=None, jtfs: torch.nn.Module | None = None
    ) -> dict[str, float]:
        """Over ``split`` in fixed order: θ L1 (total and per parameter) when θ is known; the loss
        (``with_loss``) with reconstruction seeds and SCRAPL paths from a private stream
        (``purpose``); audio metrics of the reconstructions (``perceptual``, ``jtfs``).
        Metrics are averaged over examples."""
        bs = self.cfg.data.batch_size
        gen = _seeded_generator(self.cfg.seed, purpose)
        self.encoder.eval()
        l1_sum = torch.zeros(len(self.theta_names), dtype=torch.float64)
        loss_sum = jtfs_sum = 0.0
        n = 0
        if perceptual is not None:
            perceptual.reset()
        for batch in split.fixed_batches(bs):
            x, theta = build.targets(batch, self.synth, self.device)
            theta_hat = self.encoder(x)
            b = len(x)
            if theta is not None:
                l1_sum += (theta_hat - theta).abs().sum(0).double().cpu()
            seed_hat = draw_seed_hat(gen, b).to(self.device)
            path = self._validation_path(gen) if self.is_scrapl else None
            x_hat = None
            if with_loss:
                loss, x_hat = self._loss(x, theta, theta_hat, seed_hat, path)
                loss_sum += float(loss) * b
            if perceptual is not None or jtfs is not None:
                if x_hat is None:
                    x_hat = self.synth(theta_hat, seed_hat)
                if perceptual is not None:
                    perceptual.update(x_hat.float(), x.float())
                if jtfs is not None:
                    jtfs_sum += float(jtfs(x_hat, x)) * b
            n += b
        out: dict[str, float] = {}
        if self.has_theta:
            l1 = l1_sum / n
            out[schema.VAL_THETA_L1] = float(l1.mean())
            out.update(
                {
                    schema.per_param(schema.VAL_THETA_L1, name): float(v)
                    for name, v in zip(self.theta_names, l1, strict=True)
                }
            )
        if with_loss:
            out["val_loss"] = loss_sum / n
        if jtfs is not None:
            out["val_jtfs"] = jtfs_sum / n
        if perceptual is not None:
            out.update({f"test_{k}": v for k, v in perceptual.compute().items()})
        return out

    def _validation_path(self, gen: torch.Generator) -> int:
        """One SCRAPL path for a validation batch (``eval.val_paths``: uniform, or the run's π)."""
        if self.cfg.eval.val_paths == "pi":
            return int(torch.multinomial(self.loss.sampler.probs, 1, generator=gen))
        return int(torch.randint(self.n_paths, (1,), generator=gen))

    def validate(self) -> dict[str, float]:
        metrics = self.evaluate(self.val_split, with_loss=True, purpose=1_000_000 + self.step, jtfs=self.val_jtfs)
        train_loss = self.train_loss_sum / max(1, self.train_loss_count)
        self.train_loss_sum, self.train_loss_count = 0.0, 0
        metrics.update(
            {
                schema.TRAIN_LOSS: train_loss,
                schema.ELAPSED_S: self.elapsed_s,
                "epoch": self.step / self.steps_per_epoch,
                "lr": self.optimizer.param_groups[0]["lr"],
            }
        )
        if self.is_scrapl:
            metrics[schema.PATH_ENTROPY] = self.loss.sampler.entropy()
        if not math.isfinite(metrics["val_loss"]):
            raise NonFiniteLossError(self.step, metrics["val_loss"])
        key = self.cfg.train.checkpoint_metric
        if metrics[key] < self.best["metric"]:
            self.best = {
                "metric": metrics[key],
                "step": self.step,
                "model": {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()},
            }
        self.history.append({"step": self.step, **metrics})
        return metrics

    def finish(self) -> dict[str, float]:
        """Test θ L1 of the best checkpoint and the per-run statistics of the validation curve."""
        final_model = {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}
        self.encoder.load_state_dict(self.best["model"])
        test = self.evaluate(self.test_split, with_loss=False, purpose=2, perceptual=self.perceptual)
        metrics = {k: v for k, v in test.items() if k.startswith("test_")}
        if self.has_theta:
            metrics[schema.TEST_THETA_L1] = test[schema.VAL_THETA_L1]
            metrics.update(
                {
                    schema.per_param(schema.TEST_THETA_L1, n): test[schema.per_param(schema.VAL_THETA_L1, n)]
                    for n in self.theta_names
                }
            )
            steps = [h["step"] for h in self.history]
            metrics[schema.VAL_TOTAL_VARIATION] = total_variation([h[schema.VAL_THETA_L1] for h in self.history])
            for name, key in [(None, schema.VAL_THETA_L1)] + [
                (n, schema.per_param(schema.VAL_THETA_L1, n)) for n in self.theta_names
            ]:
                conv = convergence_step(steps, [h[key] for h in self.history])
                if conv is not None:
                    metrics[
                        schema.CONVERGENCE_STEP if name is None else schema.per_param(schema.CONVERGENCE_STEP, name)
                    ] = float(conv)
        metrics[schema.STEPS_PER_SECOND] = self.step / self.elapsed_s if self.elapsed_s > 0 else 0.0
        metrics["best_step"] = float(self.best["step"])
        self.examples = self.render_examples()
        self.encoder.load_state_dict(final_model)
        return metrics

    @torch.no_grad()
    def render_examples(self, k: int = 3) -> Tensor:
        """``(k, 2, N)``: test targets and their reconstructions by the current (best) encoder."""
        batch = next(self.test_split.fixed_batches(min(k, len(self.test_split)), drop_last=True))
        x, _ = build.targets(batch, self.synth, self.device)
        self.encoder.eval()
        seed_hat = draw_seed_hat(_seeded_generator(self.cfg.seed, 3), len(x)).to(self.device)
        x_hat = self.synth(self.encoder(x), seed_hat)
        return torch.stack([x[:, 0], x_hat[:, 0]], dim=1).cpu()


def _flat(cfg: RunConfig) -> dict[str, Any]:
    return flatten(cfg)
