"""The θ-IS operator ``v ↦ Σ_batches M_u v`` (notes §8) in two equivalent forms; ``theta_is.curvature`` runs
power iteration on one of them.

``method="hvp"`` is the released computation: per batch, the graph of ``θ̂ = E(x; w)``, ``x̂ = D(θ̂)``,
``ℓ = L_p(x̂, x)``, ``s = ∂ℓ/∂θ̂`` and ``h_u = Σ_b s[b,u] ∇_w θ̂[b,u]`` (both with graph), then the
double-backward ``M_u v = ∇_w ⟨h_u(w), v⟩``: every application runs the synth and the JTFS path twice
differentiated.

``method="factored"`` computes the same matrix through the chain rule. Writing ``g_{b,u} = ∇_w θ̂[b,u]``
(the rows of the encoder's Jacobian J) and ``H = ∂²ℓ/∂θ̂²``::

    M_u v = Σ_b s[b,u] ∇²_w θ̂[b,u] v  +  Σ_b (g_{b,u}·v) Σ_{c,u'} H[(c,u'),(b,u)] g_{c,u'}
          = ∇_w ⟨J(w)ᵀ (s ⊙ e_u), v⟩|_{s fixed}  +  Jᵀ (H (e_u ⊙ J v))

When the synth and the loss treat examples independently (the synth renders each example from its own θ
and seed; the loss is a mean of per-example terms: true for every SCRAPL synth and path loss), ``H`` is
block diagonal with one ``U × U`` block per example, so ``s`` and the columns ``H_b[:, u]`` of a path are
computed ONCE per (path, batch) through the synth and the JTFS, and every power-iteration step runs the
encoder only: one double backward gives both ``∇_w ⟨Jᵀ(s ⊙ e_u), v⟩`` and ``J v`` (the gradient with
respect to ``s``), one more backward gives ``Jᵀ c``. The encoder graph does not depend on the path, so with
one batch it is built once for all paths. ``path_derivatives`` checks the block structure on the first
path it is given (``ValueError`` otherwise: use ``method="hvp"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

METHODS = ("factored", "hvp")


def encoder_output(encoder, x: Tensor) -> Tensor:
    """``θ̂ = encoder(x)`` with its graph, checked to be ``(B, U)`` and to depend on trainable weights."""
    theta_hat = encoder(x)
    if not isinstance(theta_hat, Tensor) or theta_hat.ndim != 2 or theta_hat.shape[0] != x.shape[0]:
        raise ValueError(
            f"encoder must map x {tuple(x.shape)} to theta_hat (B, U); got {tuple(getattr(theta_hat, 'shape', ()))}"
        )
    if not theta_hat.requires_grad:
        raise ValueError("encoder output does not depend on any trainable weight")
    return theta_hat


def path_loss_value(path_loss, synth, theta_hat: Tensor, seed_hat: Tensor, x: Tensor, path: int) -> Tensor:
    loss = path_loss(synth(theta_hat, seed_hat), x, path)
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        raise ValueError(f"path_loss must return a scalar tensor, got {getattr(loss, 'shape', loss)!r}")
    return loss


def _zeros_for_none(grads, tensors) -> list[Tensor]:
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, tensors, strict=True)]


# ------------------------------------------------------------------------------------ method "hvp"


class HVPGraph:
    """θ̂, s and h_u for one batch, one path and some θ-dimensions, graphs kept for HVPs (released method)."""

    def __init__(self, encoder, synth, path_loss, weights, x, seed_hat, path, dims):
        theta_hat = encoder_output(encoder, x)
        loss = path_loss_value(path_loss, synth, theta_hat, seed_hat, x, path)
        (s,) = torch.autograd.grad(loss, theta_hat, create_graph=True)  # (B, U), Eq. 11
        self.h: dict[int, list[Tensor | None]] = {}
        for u in dims:
            mask = torch.zeros_like(s)
            mask[:, u] = 1.0
            # h_u = Σ_b s[b,u] ∇_w θ̂[b,u]; None where a weight does not reach θ̂.
            self.h[u] = list(
                torch.autograd.grad(
                    theta_hat, weights, grad_outputs=s * mask, create_graph=True, retain_graph=True, allow_unused=True
                )
            )

    def hvp(self, u: int, group: Sequence[int], weights: Sequence[Tensor], vs: Sequence[Tensor]) -> list[Tensor]:
        """``[∇_{w_i} ⟨h_u, v⟩ for i in group]``, h restricted to the group's tensors."""
        outputs, cotangents = [], []
        for i, v in zip(group, vs, strict=True):
            h = self.h[u][i]
            if h is not None and h.requires_grad:
                outputs.append(h)
                cotangents.append(v)
        ws = [weights[i] for i in group]
        if not outputs:
            return [torch.zeros_like(w) for w in ws]
        grads = torch.autograd.grad(outputs, ws, grad_outputs=cotangents, retain_graph=True, allow_unused=True)
        return _zeros_for_none(grads, ws)


# ------------------------------------------------------------------------------- method "factored"


def path_derivatives(
    synth, path_loss, theta: Tensor, seed_hat: Tensor, x: Tensor, path: int, dims: Sequence[int], check: bool = False
) -> tuple[Tensor, dict[int, Tensor]]:
    """``s = ∂ℓ/∂θ̂`` (B, U) and, for each ``u`` in ``dims``, the column ``H_b[:, u]`` of every example's
    ``U × U`` block of ``∂²ℓ/∂θ̂²`` as a (B, U) tensor, at ``θ̂ = theta`` (a constant here).

    ``check``: verify that ``H`` is block diagonal over examples (``ceil(log2 B)`` extra double backwards with
    0/1 per-example weights); ``ValueError`` when the synth or the loss couples examples.
    """
    theta = theta.detach().clone().requires_grad_(True)
    loss = path_loss_value(path_loss, synth, theta, seed_hat, x, path)
    (s,) = torch.autograd.grad(loss, theta, create_graph=True)
    cols: dict[int, Tensor] = {}
    if not s.requires_grad:  # ℓ linear in θ̂: H = 0
        return s.detach(), {u: torch.zeros_like(s) for u in dims}
    for k, u in enumerate(dims):
        (col,) = torch.autograd.grad(s[:, u].sum(), theta, retain_graph=check or k < len(dims) - 1, allow_unused=True)
        cols[u] = torch.zeros_like(s) if col is None else col.detach()
    if check and len(dims) and s.shape[0] > 1:
        # Probe k weights example b's s by bit k of b (1) or 0: with independent examples the gradient rows of
        # the examples weighted 0 are exactly zero (zero cotangents stay zero through per-example operations),
        # whatever the precision; a synth or loss that mixes two examples puts O(1) there in a probe where
        # their bits differ, and any two indices differ in some bit (even/odd alone misses b with b + 2).
        # (An earlier check compared two float32 gradients to 1e-3 of their scale and refused the chirplet at
        # paper scale on rounding, 6e-2 on its weakest paths.)
        u = dims[0]
        scale = float(cols[u].abs().max())
        index = torch.arange(s.shape[0], device=s.device)
        n_probes = (s.shape[0] - 1).bit_length()
        for k in range(n_probes):
            on = ((index >> k) & 1) == 1
            (mixed,) = torch.autograd.grad(
                (s[:, u] * on.to(s.dtype)).sum(), theta, retain_graph=k < n_probes - 1, allow_unused=True
            )
            leak = 0.0 if mixed is None else float(mixed[~on].abs().max())
            if leak > 1e-6 * scale + 1e-30:
                raise ValueError(
                    "method='factored' needs a synth and a path loss that treat examples independently "
                    "(∂²ℓ/∂θ̂² block diagonal over the batch); these couple examples: use method='hvp'"
                )
    return s.detach(), cols


class FactoredBatch:
    """One batch's encoder graph and, for the current path, its ``s`` and ``H`` columns (``path_derivatives``).

    ``apply(u, group, vs)`` returns ``[(M_u v)_i for i in group]`` for this batch's share of the operator.
    """

    def __init__(self, encoder, weights, x: Tensor, keep_graph: bool) -> None:
        self.encoder, self.weights, self.x, self.keep_graph = encoder, weights, x, keep_graph
        self._theta_hat: Tensor | None = None
        self.s: Tensor | None = None
        self.cols: dict[int, Tensor] = {}
        self._q: dict[tuple[int, tuple[int, ...]], tuple[list[Tensor | None], Tensor]] = {}

    def set_path(self, s: Tensor, cols: dict[int, Tensor]) -> None:
        self.s, self.cols, self._q = s, cols, {}

    def _graph(self) -> Tensor:
        if self._theta_hat is not None:
            return self._theta_hat
        theta_hat = encoder_output(self.encoder, self.x)
        if self.keep_graph:
            self._theta_hat = theta_hat
        return theta_hat

    def _h(self, theta_hat: Tensor, u: int, group: Sequence[int]):
        """``h_u = Jᵀ (s ⊙ e_u)`` over the group's tensors with graph, and ``s ⊙ e_u`` as a leaf."""
        key = (u, tuple(group))
        if key in self._q:
            return self._q[key]
        assert self.s is not None, "set_path() first"
        s_u = torch.zeros_like(self.s)
        s_u[:, u] = self.s[:, u]
        s_u.requires_grad_(True)
        ws = [self.weights[i] for i in group]
        h: list[Tensor | None] = list(
            torch.autograd.grad(
                theta_hat, ws, grad_outputs=s_u, create_graph=True, retain_graph=True, allow_unused=True
            )
        )
        if self.keep_graph:
            self._q[key] = (h, s_u)
        return h, s_u

    def apply(self, u: int, group: Sequence[int], vs: Sequence[Tensor]) -> list[Tensor]:
        theta_hat = self._graph()
        ws = [self.weights[i] for i in group]
        h, s_u = self._h(theta_hat, u, group)
        pairs = [(hi, vi) for hi, vi in zip(h, vs, strict=True) if hi is not None]
        if not pairs:
            return [torch.zeros_like(w) for w in ws]
        dot = sum((hi * vi).sum() for hi, vi in pairs)
        # One double backward: the gradient in w is Σ_b s[b,u] ∇²θ̂[b,u] v, the one in s is J v.
        *term1, jv = torch.autograd.grad(dot, ws + [s_u], retain_graph=True, allow_unused=True)
        term1 = _zeros_for_none(term1, ws)
        if jv is None:
            return term1
        c = self.cols[u] * jv[:, u : u + 1]  # c[b, u'] = H_b[u', u] (J v)[b, u]
        term2 = torch.autograd.grad(theta_hat, ws, grad_outputs=c, retain_graph=True, allow_unused=True)
        return [a + b for a, b in zip(term1, _zeros_for_none(term2, ws), strict=True)]

    def release(self) -> None:
        self._theta_hat, self._q = None, {}
