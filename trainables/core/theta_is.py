"""θ-importance sampling (θ-IS): curvature ``C`` per (path, θ-dimension) and the path distribution π.

Implements notes §8 (the released ``warmup_lc_hvp``) and paper Section 3.4, Eqs. 10–12, following the
released code where the two differ (notes §11.7–11.8). Pure PyTorch: no Ray, no JTFS engine. It works
against a generic per-path loss, so the study layer can fan ``curvature`` out over disjoint path
ranges and θ-dimension subsets (e.g. as Ray tasks) and put the pieces together with
``merge_curvature``.

Notation (notes §8). ``E`` is the encoder with trainable weights ``w`` (``|w|`` scalars), ``D`` the
synth, ``L_p`` the batch-mean per-path loss (notes §5), ``B`` the batch size, ``U`` the number of
synth parameters θ, ``P`` the number of paths.

For one batch ``(x, seed_hat)``, one path ``p`` and one θ-dimension ``u``::

    θ̂    = E(x; w)                                  (B, U)
    x̂    = D(θ̂, seed_hat)                           (B, 1, N)
    ℓ    = L_p(x̂, x)                                scalar
    s    = ∂ℓ/∂θ̂            (graph kept)            (B, U)      Eq. 11, once per example
    h_u  = Σ_b s[b,u] ∇_w θ̂[b,u]   (graph kept)     (|w|,)      VJP of θ̂ with cotangent s ⊙ e_u
    M_u v = ∇_w ⟨h_u(w), v⟩                         (|w|,)      double-backward HVP

``M_u v`` is ``Jᵀv`` with ``J = ∂h_u/∂w``; ``J`` and ``Jᵀ`` have the same eigenvalues. ``M_u`` is close
to symmetric but not exactly (the term ``∇_w θ̂ ⊗ ∇_w s`` is not), and not necessarily definite, so
``C[p, u] = |λ_dom(M_u)|``. With several batches (granular: 10 × 32) the operator is the **sum**
``Σ_batches M_u^(batch)``, not an average of per-batch eigenvalues as paper Eq. 12 suggests.

Power iteration, as in the released code (notes §8)::

    v = U[0,1)^|w|                 # NOT normalised at first
    λ_prev = 0
    repeat n_iter times:
        y = M_u v
        if ||y|| == 0: λ = 0; stop
        λ = v·y                    # Rayleigh estimate; the first uses the unnormalised v
        v = y / ||y||
        if |λ − λ_prev| / |λ| < tol: stop      (never when λ == 0)
        λ_prev = λ
    C[p, u] = |λ|

Conventions that differ from the notes' ``C[u, p]``: arrays here are indexed ``C[p, u]``, shape
``(P, U)`` (one row per path, as produced path by path and as merged from path chunks).

Design choices:

* ``h_u`` is built by one VJP per requested θ-dimension (a Python loop over ``u``, all sharing the
  forward graph and ``s``), not by one ``is_grads_batched`` VJP. Both were measured on a 41k-weight
  MLP encoder (B = 8, torch 2.13 CPU, 1 thread): building is similar (2–3 ms), but every HVP through
  a batched graph back-propagates through all ``U`` slices, so 20 HVPs per ``u`` cost 1.7× more at
  U = 4 and 3× more at U = 14. The loop is faster overall.
* Two ways to apply the same ``M_u`` (``method``, see ``theta_is_ops``): ``"hvp"`` is the released double
  backward through encoder, synth and path loss at every power-iteration step; ``"factored"`` (default)
  runs the synth and the path loss once per (path, batch) for ``s`` and the per-example blocks of
  ``∂²ℓ/∂θ̂²``, and every step through the encoder only (the synth and loss must treat examples
  independently, which is checked). Equal to rounding; π agrees within 1e-9 on the smoke presets.
* One batch: the graphs are built once (per path with "hvp"; the encoder's once for all paths with
  "factored") and reused by every step. Several batches: each batch's graph is rebuilt inside every
  operator application, which keeps memory at one batch (notes §8). ``rebuild_graphs`` overrides either
  default; the results are the same.
* ``merge_curvature`` and ``probabilities`` (Eq. 10) live in ``theta_is_probs``, ``power_iteration`` and
  ``power_iteration_seed`` in ``theta_is_power``; all four are re-exported here.
* Reproducible initial vectors independent of chunking: the init of path ``p``, θ-dimension ``u``
  and parameter group ``g`` is drawn from a fresh ``torch.Generator`` seeded with
  ``power_iteration_seed(seed, p, u, g)`` (a BLAKE2b hash of the four integers). Computing paths
  ``[0, 2)`` and ``[2, 4)`` in two calls (any θ-dimension subsets, any process) gives the same values
  as one call on ``[0, 4)``. A stateful generator argument could not guarantee that.
* Encoder weights must not hold ``.grad`` and must have no tensor hooks (such as SCRAPL's gradient
  hooks) — both raise ``ValueError`` instead of being cleared, so the caller's state is never
  silently modified. The computation only uses ``torch.autograd.grad``, so it never writes ``.grad``.
  Only weights with ``requires_grad=True`` form ``w``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainables.core.theta_is_ops import METHODS, FactoredBatch, HVPGraph, path_derivatives
from trainables.core.theta_is_power import power_iteration, power_iteration_seed
from trainables.core.theta_is_probs import check_index, check_indices, merge_curvature, probabilities

__all__ = [
    "AGGREGATIONS",
    "PathCurvature",
    "check_is_deterministic",
    "curvature",
    "merge_curvature",
    "power_iteration",
    "power_iteration_seed",
    "probabilities",
]

PathLoss = Callable[[Tensor, Tensor, int], Tensor]
"""``path_loss(x_hat (B,1,N), x (B,1,N), path_idx) -> scalar``, twice differentiable in ``x_hat``."""
Synth = Callable[[Tensor, Tensor], Tensor]
"""``synth(theta (B,U), seed (B,) int64) -> (B,1,N)``, differentiable in ``theta``."""

AGGREGATIONS = ("none", "mean", "max", "med")
"""``agg`` values: ``"none"`` = one operator over all weights (every experiment); the others run one
operator per parameter tensor and reduce the |λ| values with mean, max or median."""


@dataclass(frozen=True)
class PathCurvature:
    """What ``curvature`` reports to ``progress`` after each path.

    ``values``: ``(len(theta_dims),)`` float64, the row ``C[p, theta_dims]``.
    ``iterations``: ``(len(theta_dims), n_groups)`` int64, power-iteration steps per operator.
    ``n_hvp``: double-backward HVPs run for this path (operator applications × batches).
    """

    path: int
    theta_dims: tuple[int, ...]
    values: Tensor
    iterations: Tensor
    n_hvp: int
    seconds: float


# --------------------------------------------------------------------------------------- helpers


def check_is_deterministic(encoder: nn.Module, synth: Synth, x: Tensor, seed_hat: Tensor) -> None:
    """Run ``encoder`` and ``synth`` twice on one batch and raise ``ValueError`` naming the one whose
    outputs differ (notes §8: θ-IS needs both deterministic). Uses the encoder in its current mode,
    so a training-mode encoder with dropout fails; ``curvature`` switches it to eval first."""
    with torch.no_grad():
        theta_a, theta_b = encoder(x), encoder(x)
        if not torch.isfinite(theta_a).all():
            raise ValueError("encoder output is not finite")
        if not torch.equal(theta_a, theta_b):
            raise ValueError(
                "encoder is not deterministic: two forward passes on the same batch differ "
                "(dropout or batch-norm in training mode? call encoder.eval())"
            )
        x_a, x_b = synth(theta_a, seed_hat), synth(theta_a, seed_hat)
        if not torch.isfinite(x_a).all():
            raise ValueError("synth output is not finite")
        if not torch.equal(x_a, x_b):
            raise ValueError(
                "synth is not deterministic: two calls with the same theta and seed differ "
                "(it must draw all randomness from the per-example seed, not a global RNG)"
            )


# ------------------------------------------------------------------------------------ validation


def _check_batches(batches: Sequence[tuple[Tensor, Tensor]]) -> list[tuple[Tensor, Tensor]]:
    try:
        batches = list(batches)
    except TypeError:
        raise ValueError(f"batches must be a sequence of (x, seed_hat) pairs, got {batches!r}") from None
    if not batches:
        raise ValueError("batches must contain at least one (x, seed_hat) pair")
    for i, batch in enumerate(batches):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError(f"batches[{i}] must be an (x, seed_hat) pair")
        x, seed_hat = batch
        if not isinstance(x, Tensor) or x.ndim < 2:
            raise ValueError(f"batches[{i}]: x must be a tensor of shape (B, 1, N)")
        if not isinstance(seed_hat, Tensor) or seed_hat.shape != (x.shape[0],):
            raise ValueError(
                f"batches[{i}]: seed_hat must have shape ({x.shape[0]},), got {tuple(getattr(seed_hat, 'shape', ()))}"
            )
    return batches


# ------------------------------------------------------------------------------------ curvature


def curvature(
    encoder: nn.Module,
    synth: Synth,
    path_loss: PathLoss,
    batches: Sequence[tuple[Tensor, Tensor]],
    paths: Sequence[int],
    theta_dims: Sequence[int] | None = None,
    *,
    n_iter: int = 20,
    tol: float = 1e-4,
    agg: str = "none",
    seed: int = 0,
    n_paths: int | None = None,
    check_determinism: bool = True,
    rebuild_graphs: bool | None = None,
    method: str = "factored",
    progress: Callable[[PathCurvature], None] | None = None,
) -> Tensor:
    """θ-IS curvature ``C[p, u] = |λ_dom(Σ_batches M_u)|`` for the given paths and θ-dimensions.

    Args:
        encoder: maps ``x (B, 1, N)`` to ``θ̂ (B, U)`` (any front end such as the CQT included). Its
            trainable weights form ``w``. Put in eval mode during the call, then restored module by
            module. Its weights must hold no ``.grad`` and no tensor hooks (``ValueError``).
        synth: ``synth(θ (B, U), seed (B,) int64) -> x̂ (B, 1, N)``; must draw all randomness from
            ``seed``.
        path_loss: ``path_loss(x_hat, x, path_idx) -> scalar``, the batch-mean per-path loss (notes
            §5), differentiable twice in ``x_hat``.
        batches: ``(x, seed_hat)`` pairs; one batch (chirplet, TR-808) or several (granular, 10 × 32).
            The operator is the sum of the per-batch operators.
        paths: path indices to compute (rows of the result, in this order).
        theta_dims: θ-dimensions ``u`` to compute (columns, in this order); ``None`` means all ``U``.
        n_iter, tol: power-iteration budget and relative-change stopping threshold (notes §8).
        agg: ``"none"`` (one operator over all of ``w``; used in every experiment) or ``"mean"``,
            ``"max"``, ``"med"`` (one operator per trainable parameter tensor — the diagonal block
            of ``M_u`` — then the mean, max or median (average of the two middle values for an
            even count) of the |λ|).
        seed: base seed of the initial vectors, see ``power_iteration_seed``.
        n_paths: the path count P, if known, to validate ``paths``.
        check_determinism: run ``check_is_deterministic`` on the first batch (in eval mode).
        rebuild_graphs: rebuild each batch's graph inside every operator application; default
            ``True`` with several batches (memory: one batch), ``False`` with one.
        method: ``"factored"`` (default: the synth and the JTFS path run once per path and batch, the power
            iteration runs through the encoder only; needs examples treated independently, checked) or
            ``"hvp"`` (the released double backward through everything in every step); the same operator,
            see ``theta_is_ops``.
        progress: called after each path with a ``PathCurvature``.

    Returns:
        ``(len(paths), len(theta_dims))`` float64 tensor on the CPU.

    Cost per path with one batch: one forward, one backward with graph, ``len(theta_dims)`` VJPs with
    graph, then at most ``n_iter`` HVPs per (u, group). With ``B`` batches and rebuilding, every
    operator application costs ``B`` × (forward + 2 backwards + HVP).
    """
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
    if not callable(synth):
        raise ValueError("synth must be callable")
    if not callable(path_loss):
        raise ValueError("path_loss must be callable")
    batches = _check_batches(batches)
    if n_paths is not None:
        check_index("n_paths", n_paths, 1)
    paths = check_indices("paths", paths, n_paths)
    check_index("n_iter", n_iter, 1)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {AGGREGATIONS}, got {agg!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_index("seed", seed, -(2**63), 2**63)
    if rebuild_graphs is None:
        rebuild_graphs = len(batches) > 1

    weights = [w for w in encoder.parameters() if w.requires_grad]
    if not weights:
        raise ValueError("encoder has no trainable parameters (requires_grad=True)")
    for name, w in encoder.named_parameters():
        if not w.requires_grad:
            continue
        if w.grad is not None:
            raise ValueError(
                f"encoder parameter {name!r} already holds a .grad; θ-IS must run on clean "
                "weights — call encoder.zero_grad(set_to_none=True) first"
            )
        if getattr(w, "_backward_hooks", None):
            raise ValueError(
                f"encoder parameter {name!r} has gradient hooks (SCRAPL's hooks?); they "
                "would alter the HVPs — attach them after θ-IS"
            )
    groups = [list(range(len(weights)))] if agg == "none" else [[i] for i in range(len(weights))]

    modes = [(m, m.training) for m in encoder.modules()]
    encoder.eval()
    try:
        with torch.enable_grad():
            x0, seed0 = batches[0]
            if check_determinism:
                check_is_deterministic(encoder, synth, x0, seed0)
            with torch.no_grad():
                n_theta = encoder(x0).shape[-1]
            theta_dims = tuple(range(n_theta)) if theta_dims is None else theta_dims
            theta_dims = check_indices("theta_dims", theta_dims, n_theta)

            out = torch.empty(len(paths), len(theta_dims), dtype=torch.float64)
            factored = None
            if method == "factored":
                with torch.no_grad():
                    thetas = [encoder(x) for x, _ in batches]
                factored = [FactoredBatch(encoder, weights, x, keep_graph=not rebuild_graphs) for x, _ in batches]
            for row, p in enumerate(paths):
                t0 = time.perf_counter()
                if factored is not None:
                    for b, ((x, seed_hat), fb) in enumerate(zip(batches, factored, strict=True)):
                        fb.set_path(
                            *path_derivatives(
                                synth, path_loss, thetas[b], seed_hat, x, p, theta_dims, check=row == 0 and b == 0
                            )
                        )
                values, iterations, n_hvp = _path_curvature(
                    encoder,
                    synth,
                    path_loss,
                    weights,
                    batches,
                    p,
                    theta_dims,
                    groups,
                    n_iter=n_iter,
                    tol=tol,
                    agg=agg,
                    seed=seed,
                    rebuild_graphs=rebuild_graphs,
                    factored=factored,
                )
                out[row] = values
                if progress is not None:
                    progress(PathCurvature(p, theta_dims, values.clone(), iterations, n_hvp, time.perf_counter() - t0))
    finally:
        for module, mode in modes:
            module.training = mode
    return out


def _path_curvature(
    encoder,
    synth,
    path_loss,
    weights,
    batches,
    p,
    theta_dims,
    groups,
    *,
    n_iter,
    tol,
    agg,
    seed,
    rebuild_graphs,
    factored=None,
):
    """One row ``C[p, theta_dims]``, the iteration counts and the number of HVPs (operator applications
    times batches). ``factored``: one ``FactoredBatch`` per batch, set to path ``p`` (method "factored")."""
    cached = (
        None
        if rebuild_graphs or factored is not None
        else [HVPGraph(encoder, synth, path_loss, weights, x, seed_hat, p, theta_dims) for x, seed_hat in batches]
    )
    n_hvp = 0
    values = torch.empty(len(theta_dims), dtype=torch.float64)
    iterations = torch.zeros(len(theta_dims), len(groups), dtype=torch.int64)
    for col, u in enumerate(theta_dims):
        lams = []
        for g, group in enumerate(groups):
            shapes = [weights[i].shape for i in group]
            sizes = [weights[i].numel() for i in group]

            def operator(v: Tensor, u=u, group=group, shapes=shapes, sizes=sizes) -> Tensor:
                nonlocal n_hvp
                vs = [c.view(shape) for c, shape in zip(torch.split(v, sizes), shapes, strict=True)]
                total = None
                for b, (x, seed_hat) in enumerate(batches):
                    if factored is not None:
                        parts = factored[b].apply(u, group, vs)
                    else:
                        graph = (
                            cached[b]
                            if cached is not None
                            else HVPGraph(encoder, synth, path_loss, weights, x, seed_hat, p, (u,))
                        )
                        parts = graph.hvp(u, group, weights, vs)
                    y = torch.cat([t.reshape(-1) for t in parts])
                    total = y if total is None else total + y
                    n_hvp += 1
                assert total is not None  # at least one batch
                return total

            gen = torch.Generator().manual_seed(power_iteration_seed(seed, p, u, g))
            ref = weights[group[0]]
            v0 = torch.rand(sum(sizes), generator=gen, dtype=torch.float64).to(ref.device, ref.dtype)
            lam, steps = power_iteration(operator, v0, n_iter=n_iter, tol=tol)
            lams.append(abs(lam))
            iterations[col, g] = steps
        lam_abs = torch.tensor(lams, dtype=torch.float64)
        if agg in ("none", "mean"):
            values[col] = lam_abs.mean()
        elif agg == "max":
            values[col] = lam_abs.max()
        else:
            values[col] = lam_abs.quantile(0.5)
    return values, iterations, n_hvp
