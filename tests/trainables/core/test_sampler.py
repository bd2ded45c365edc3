"""Path sampler: distribution, seeding, resumable state, validation."""

import io
import math

import pytest
import torch

from trainables.core import PathSampler


def test_uniform_draws_cover_paths_evenly():
    s = PathSampler(10, seed=0)
    draws = [s.sample() for _ in range(5000)]
    freq = torch.bincount(torch.tensor(draws), minlength=10).double() / 5000
    assert torch.all((freq - 0.1).abs() < 0.02)
    assert torch.equal(s.counts, torch.bincount(torch.tensor(draws), minlength=10))
    assert s.entropy() == pytest.approx(math.log(10), abs=0.01)


def test_categorical_pi_is_followed():
    pi = torch.tensor([0.7, 0.0, 0.3], dtype=torch.float64)
    s = PathSampler(3, probs=pi, seed=1)
    draws = torch.tensor([s.sample() for _ in range(3000)])
    assert (draws == 1).sum() == 0
    assert (draws == 0).double().mean().item() == pytest.approx(0.7, abs=0.03)
    assert s.probs.dtype == torch.float64


def test_same_seed_same_paths_and_independent_of_global_rng():
    a, b = PathSampler(50, seed=3), PathSampler(50, seed=3)
    torch.manual_seed(123)
    first = [a.sample() for _ in range(20)]
    torch.manual_seed(999)
    assert first == [b.sample() for _ in range(20)]
    assert first != [PathSampler(50, seed=4).sample() for _ in range(20)]


def test_state_dict_round_trip_resumes_the_sequence():
    a = PathSampler(50, seed=7)
    for _ in range(13):
        a.sample()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = PathSampler(50, seed=0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert [a.sample() for _ in range(30)] == [b.sample() for _ in range(30)]
    assert torch.equal(a.counts, b.counts)


def test_state_from_another_distribution_is_refused():
    a = PathSampler(4, seed=0)
    b = PathSampler(4, probs=[0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="different path distribution"):
        b.load_state_dict(a.state_dict())


@pytest.mark.parametrize(
    "n, probs, match",
    [
        (0, None, "n_paths"),
        (3, [0.5, 0.5], r"shape \(3,\)"),
        (2, [1.5, -0.5], "non-negative"),
        (2, [0.2, 0.2], "sum to 1"),
        (2, [float("nan"), 1.0], "finite"),
    ],
)
def test_invalid_arguments(n, probs, match):
    with pytest.raises(ValueError, match=match):
        PathSampler(n, probs=probs)
