"""P-Adam and P-SAGA (paper §3.2–3.3, Algorithm 1) as a ``torch.optim.Optimizer``.

The released code rewrites gradients with tensor hooks inside the loss and cannot resume from a
checkpoint. Here the same transform is an optimizer whose ``step(path_idx)`` applies it and then
plain SGD with coupled weight decay, with all state in ``state_dict()`` (notes §7).

Algorithm (``variant="released"``, the code that produced the paper's numbers), for the gradient
``g`` of the batch-mean loss on path ``p`` at step ``k`` (1-based), per parameter tensor ``w``::

    g    = grad_mult * g
    t    = k + 1                                      # released off-by-one; "paper": t = k
    if P-Adam:
        d      = (t - tau[p]) / P                     # tau[p] = 0 for a path never drawn
        m[p]   = b1**d * m[p] + (1 - b1**d) * g
        v[p]   = b2**d * v[p] + (1 - b2**d) * g * g
        g      = (m[p] / (1 - b1**(t/P))) / (sqrt(v[p] / (1 - b2**(t/P))) + eps)
                                                      # "paper": / sqrt(eps + v_hat)
        tau[p] = t
    if P-SAGA:
        avg    = sum_paths(G) / max(1, |seen ∪ {p}| - 1)     # "paper": / max(1, |seen|)
        g, G[p] = g - G[p] + avg, g                   # G[p] keeps the P-Adam output (or raw g)
    seen  += {p}
    w     -= lr * (g + weight_decay * w)              # SGD, momentum 0, coupled L2 decay

``variant="running-sum"`` is the same rule with ``sum_paths(G)`` kept as a running float64 sum ``G_sum``
(``G_sum += g - G[p]`` when row p is replaced): O(|w|) per step instead of O(P·|w|), and equal to the
exact float32 sum within float32 rounding, so its updates differ from the released code's only in the last
bits. ``"paper"`` uses the running sum too.

Only the buffers the enabled toggles need are allocated: ``m`` and ``v`` (P × |w| each) for P-Adam,
``G`` (P × |w|) for P-SAGA (and ``G_sum``, |w| in float64, for the running sum).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

VARIANTS = ("released", "running-sum", "paper")
_PATHS = "paths"  # key of the state shared by all parameters (step counter, tau, seen)


def pathwise_transform(
    g: Tensor,
    state: dict,
    p: int,
    t: int,
    tau_p: int,
    n_paths: int,
    saga_divisor: int,
    *,
    use_p_adam: bool,
    use_p_saga: bool,
    beta1: float,
    beta2: float,
    eps: float,
    eps_inside_sqrt: bool,
    running_sum: bool = False,
) -> Tensor:
    """Apply P-Adam then P-SAGA to one parameter's (already ``grad_mult``-scaled) gradient ``g``,
    updating ``state["m"], state["v"], state["G"]`` row ``p`` (and ``state["G_sum"]`` with
    ``running_sum``) in place. Returns the new direction."""
    if use_p_adam:
        m, v = state["m"], state["v"]
        d = (t - tau_p) / n_paths
        m_p = beta1**d * m[p] + (1 - beta1**d) * g
        v_p = beta2**d * v[p] + (1 - beta2**d) * g * g
        m[p], v[p] = m_p, v_p
        m_hat = m_p / (1 - beta1 ** (t / n_paths))
        v_hat = v_p / (1 - beta2 ** (t / n_paths))
        g = m_hat / torch.sqrt(eps + v_hat) if eps_inside_sqrt else m_hat / (torch.sqrt(v_hat) + eps)
    if use_p_saga:
        G = state["G"]
        if running_sum:
            total = state.get("G_sum")
            if total is None:  # a state saved by the exact variant
                total = state["G_sum"] = G.sum(dim=0, dtype=torch.float64)
            avg = (total / saga_divisor).to(g.dtype)
            total.add_(g.to(total.dtype) - G[p].to(total.dtype))
        else:
            avg = G.sum(dim=0) / saga_divisor
        g_out = g - G[p] + avg
        G[p] = g
        g = g_out
    return g


class PathwiseSGD(Optimizer):
    """P-Adam and/or P-SAGA gradient transform followed by SGD with coupled weight decay.

    Args:
        params: parameters (or parameter groups) of the network.
        n_paths: P, the number of SCRAPL paths.
        lr: learning rate α.
        use_p_adam / use_p_saga: the two independent toggles of the ablation.
        betas, eps: P-Adam's β1, β2, ε.
        weight_decay: coupled L2 decay of the SGD step (0.01 in the paper's runs).
        grad_mult: gradient scale before the transform (released default 1e8; 1 with log1p ρ).
        variant: ``"released"`` (default: ``t = k+1``, ε outside the square root, P-SAGA divisor
            ``|seen ∪ {p}| − 1``, the sum over paths recomputed every step: bit-exact with the
            released code), ``"running-sum"`` (the same rule with a running sum: O(|w|) per step) or
            ``"paper"`` (Eqs. 6–9: ``t = k``, ``sqrt(ε + v̂)``, divisor ``card Γ``; running sum).

    Every hyperparameter is a param-group entry (torch.optim convention), so ``state_dict()`` carries
    them; ``variant`` must be the same in every group (the per-path step indices are shared).
    Call ``step(path_idx)`` after ``backward()`` with the path the loss used.
    """

    def __init__(
        self,
        params: Iterable,
        n_paths: int,
        lr: float,
        *,
        use_p_adam: bool = True,
        use_p_saga: bool = True,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        grad_mult: float = 1e8,
        variant: str = "released",
    ) -> None:
        if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
            raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if not grad_mult > 0:
            raise ValueError(f"grad_mult must be > 0, got {grad_mult!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        # Every hyperparameter lives in ``defaults`` (so in each param group and in ``state_dict()``);
        # only P, which fixes the shape of the per-path state, is an attribute.
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            use_p_adam=bool(use_p_adam),
            use_p_saga=bool(use_p_saga),
            grad_mult=float(grad_mult),
            variant=variant,
        )
        super().__init__(params, defaults)
        self.n_paths = n_paths

    def _paths_state(self) -> dict:
        state: dict[Any, Any] = self.state  # torch keys it by parameter; one string key holds the path state
        if _PATHS not in state:
            state[_PATHS] = {
                "step": torch.tensor(0, dtype=torch.int64),
                "tau": torch.zeros(self.n_paths, dtype=torch.int64),
                "seen": torch.zeros(self.n_paths, dtype=torch.bool),
            }
        return state[_PATHS]

    def _param_state(self, w: Tensor, group: dict) -> dict:
        state = self.state[w]
        if not state:
            shape = (self.n_paths, *w.shape)
            if group["use_p_adam"]:
                state["m"] = torch.zeros(shape, dtype=w.dtype, device=w.device)
                state["v"] = torch.zeros(shape, dtype=w.dtype, device=w.device)
            if group["use_p_saga"]:
                state["G"] = torch.zeros(shape, dtype=w.dtype, device=w.device)
                if group["variant"] != "released":
                    state["G_sum"] = torch.zeros(w.shape, dtype=torch.float64, device=w.device)
        return state

    @torch.no_grad()
    def step(self, path_idx: int, closure=None):  # type: ignore[override]
        """Transform each gradient for path ``path_idx`` and take one SGD step."""
        if isinstance(path_idx, Tensor):
            path_idx = int(path_idx)
        if isinstance(path_idx, bool) or not isinstance(path_idx, int) or not 0 <= path_idx < self.n_paths:
            raise ValueError(f"path_idx must be an integer in [0, {self.n_paths}), got {path_idx!r}")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        shared = self._paths_state()
        shared["step"] += 1
        k = int(shared["step"])
        p = path_idx
        tau_p = int(shared["tau"][p])
        seen_before = int(shared["seen"].sum())
        seen_p = bool(shared["seen"][p])
        variants = {group["variant"] for group in self.param_groups}
        if len(variants) != 1 or not variants <= set(VARIANTS):
            raise ValueError(
                f"variant must be one of {VARIANTS} and the same in every param group "
                f"(tau is shared), got {sorted(variants)}"
            )
        released = variants <= {"released", "running-sum"}  # the released update rule
        t = k + 1 if released else k
        saga_divisor = max(1, seen_before + (0 if seen_p else 1) - 1) if released else max(1, seen_before)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = group["grad_mult"] * w.grad
                g = pathwise_transform(
                    g,
                    self._param_state(w, group),
                    p,
                    t,
                    tau_p,
                    self.n_paths,
                    saga_divisor,
                    use_p_adam=group["use_p_adam"],
                    use_p_saga=group["use_p_saga"],
                    beta1=beta1,
                    beta2=beta2,
                    eps=group["eps"],
                    eps_inside_sqrt=not released,
                    running_sum=group["variant"] != "released",
                )
                if group["weight_decay"]:
                    g = g.add(w, alpha=group["weight_decay"])
                w.add_(g, alpha=-group["lr"])
        if any(group["use_p_adam"] for group in self.param_groups):
            shared["tau"][p] = t
        shared["seen"][p] = True
        return loss

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()`` (deep-copied: the loaded optimizer never shares buffers with it)."""
        paths = state_dict.get("state", {}).get(_PATHS)
        if paths is not None and tuple(paths["tau"].shape) != (self.n_paths,):
            raise ValueError(f"state_dict is for {paths['tau'].shape[0]} paths, this optimizer has {self.n_paths}")
        state_dict = copy.deepcopy(state_dict)
        # Checkpoints written before the toggles moved into the param groups lack them: the optimizer that
        # wrote them held its constructor's values, which this one's defaults repeat.
        for group in state_dict.get("param_groups", []):
            for key in ("use_p_adam", "use_p_saga", "grad_mult", "variant"):
                group.setdefault(key, self.defaults[key])
        super().load_state_dict(state_dict)

    def buffer_bytes(self) -> int:
        """Bytes held by the per-path buffers (m, v, G) allocated so far."""
        return sum(
            t.numel() * t.element_size()
            for key, s in self.state.items()
            if key != _PATHS
            for t in s.values()
            if isinstance(t, Tensor)
        )
