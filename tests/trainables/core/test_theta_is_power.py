"""Power iteration (notes §8): known eigenvalues, the unnormalised first estimate, the zero and non-finite
operators; the initial vectors' seeds are stable and distinct."""

from __future__ import annotations

import math

import pytest
import torch

from trainables.core.theta_is_power import power_iteration, power_iteration_seed

DT = torch.float64


def test_power_iteration_on_known_matrices():
    A = torch.diag(torch.tensor([-5.0, 2.0, 1.0], dtype=DT))
    lam, steps = power_iteration(lambda v: A @ v, torch.tensor([0.3, 0.9, 0.2], dtype=DT), n_iter=200, tol=1e-12)
    assert math.isclose(lam, -5.0, rel_tol=1e-9) and steps < 200  # signed; C takes |λ|
    lam, steps = power_iteration(lambda v: torch.zeros_like(v), torch.ones(3, dtype=DT))
    assert (lam, steps) == (0.0, 1)  # ||y|| == 0 → λ = 0
    # First estimate uses the unnormalised init: v = (2, 0), A = 3·I → λ1 = v·Av = 12, then 3, 3.
    lam, steps = power_iteration(lambda v: 3 * v, torch.tensor([2.0, 0.0], dtype=DT), n_iter=1)
    assert (lam, steps) == (12.0, 1)
    lam, steps = power_iteration(lambda v: 3 * v, torch.tensor([2.0, 0.0], dtype=DT))
    assert (lam, steps) == (3.0, 3)
    with pytest.raises(FloatingPointError):
        power_iteration(lambda v: v * float("nan"), torch.ones(2, dtype=DT))


def test_power_iteration_seed_is_stable_and_distinct():
    assert power_iteration_seed(0, 0, 0) == power_iteration_seed(0, 0, 0, 0)
    seeds = {power_iteration_seed(s, p, u, g) for s in range(2) for p in range(5) for u in range(3) for g in range(2)}
    assert len(seeds) == 60 and all(0 <= s < 2**63 for s in seeds)
