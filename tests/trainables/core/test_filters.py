"""Filter banks and the path set against the numbers of notes §2–3 (acceptance tests §12.1–2)."""

import math
from collections import Counter

import numpy as np
import pytest

from trainables.core.filters import periodize_sum
from trainables.core.settings import NAMED_SETTINGS, JTFSSettings

GRANULAR, TR808, TINY = (NAMED_SETTINGS[k][0] for k in ("granular", "tr808", "tiny"))


@pytest.mark.parametrize(
    "settings, P, n_fr, N_pad, pads, N_fr",
    [
        (GRANULAR, 315, 15, 65536, (16384, 16384), 168),
        (TR808, 483, 23, 131072, (43486, 43486), 96),
        (TINY, 195, 15, 16384, (4096, 4096), 136),
    ],
)
def test_path_counts_padding_and_frequential_length(settings, P, n_fr, N_pad, pads, N_fr):
    fb = settings.filter_bank
    assert fb.n_paths == P
    assert fb.n_fr_count == n_fr
    assert set(range(len(fb.j2))) - set(fb.kept_n2.tolist()) == {0, 1, 2, 3}
    assert fb.padding == (N_pad, *pads)
    assert fb.N_fr == N_fr


def test_first_and_second_order_banks_of_the_paper_config():
    fb = GRANULAR.filter_bank
    xi1 = fb.first_order[0]
    assert len(xi1) == 86
    assert xi1[0] == pytest.approx(0.435, abs=1e-3) and xi1[-1] == pytest.approx(6.3e-5, rel=0.02)
    assert Counter(fb.j1.tolist()) == {0: 10, **{j: 8 for j in range(1, 9)}, 9: 7, 10: 4, 11: 1}
    assert fb.j2.tolist() == [0, 0, 0, 0] + [j for j in range(1, 11) for _ in (0, 1)] + [11]
    assert [fb.n1_max(j2) for j2 in range(1, 12)] == [10, 18, 26, 34, 42, 50, 58, 66, 74, 81, 85]
    xi2 = fb.second_order[0]
    np.testing.assert_allclose(xi2[:24], 0.35 * 2.0 ** (-np.arange(24) / 2), rtol=1e-12)


def test_frequential_bank():
    fb = GRANULAR.filter_bank
    assert fb.K == 7 and TR808.filter_bank.K == 11
    np.testing.assert_allclose(fb.xi_fr[1:8], [0.35, 0.247, 0.175, 0.124, 0.0875, 0.0619, 0.0309], atol=1e-3)
    assert fb.j_fr.tolist() == [3, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1, 1, 2]
    assert fb.spin.tolist() == [0] + [1] * 7 + [-1] * 7
    # spin -1 is the frequency-reversed spin +1 response (conjugate mirror), up to periodisation tails
    N = fb.N_fr
    for k in range(1, fb.K + 1):
        mirrored = fb.psi_fr[k][(-np.arange(N)) % N]
        np.testing.assert_allclose(fb.psi_fr[fb.K + k], mirrored, atol=1e-6)


def test_path_index_order_and_rates():
    fb = GRANULAR.filter_bank
    for p in range(fb.n_paths):
        n2, n_fr = fb.path(p)
        assert p == (n2 - 4) * 15 + n_fr == fb.path_index(n2, n_fr)
    table = {(r["n2"], r["n_fr"]): r for r in fb.path_table(8192)}
    # chirplet AM bounds 0.99 / 1.98 / 3.96 / 7.92 Hz are the centres of n2 = 23 / 21 / 19 / 17
    for n2, hz in [(23, 0.99), (21, 1.98), (19, 3.96), (17, 7.92)]:
        assert table[(n2, 0)]["rate_hz"] == pytest.approx(hz, abs=0.01)
    assert table[(4, 0)]["rate_hz"] == pytest.approx(716.8, abs=0.1)
    assert table[(4, 1)]["scale_cyc_per_oct"] == pytest.approx(2.8) and table[(4, 8)][
        "scale_cyc_per_oct"
    ] == pytest.approx(2.8)
    assert (table[(4, 1)]["spin"], table[(4, 8)]["spin"], table[(4, 0)]["spin"]) == (1, -1, 0)
    with pytest.raises(ValueError, match="not a SCRAPL path"):
        fb.path_index(3, 0)


def test_sum_periodisation_is_subsampled_impulse_response():
    """L(h, k) = sum of the 2**k Fourier aliases <=> impulse response 2**k * h[::2**k] (notes §2.4)."""
    h = GRANULAR.filter_bank.psi2(8)
    for k in (1, 3):
        coarse = np.fft.ifft(periodize_sum(h, k))
        np.testing.assert_allclose(coarse, 2**k * np.fft.ifft(h)[:: 2**k], atol=1e-12)


def test_unpadded_frames():
    assert GRANULAR.filter_bank.unpadded_frames() == (4, 12)
    assert TR808.filter_bank.unpadded_frames() == (22, 43)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=2, T=16384), "T"),
        (dict(shape=8192, J=14, Q1=8, Q2=2, J_fr=3, Q_fr=2), "J"),
        (dict(shape=8192, J=8, Q1=-1, Q2=2, J_fr=3, Q_fr=2), "Q1"),
        (dict(shape=8192, J=8, Q1=8, Q2=0, J_fr=3, Q_fr=2), "Q2"),
        (dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=-2), "Q_fr"),
        (dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=2, F=16), "F"),
        (dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=2, T=16), "T"),
        (dict(shape=8192, J=8.5, Q1=8, Q2=2, J_fr=3, Q_fr=2), "J"),
        (dict(shape=8, J=2, Q1=8, Q2=2, J_fr=3, Q_fr=2), "shape"),
    ],
)
def test_invalid_settings_name_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} must"):
        JTFSSettings(**kwargs)


def test_defaults_resolve_to_powers_of_two():
    s = JTFSSettings(8192, 8, 8, 2, 3, 2)
    assert (s.T_, s.F_, s.log2_T) == (256, 8, 8)
    assert math.log2(TR808.F_) == 0
