"""Validated JTFS hyperparameters (the arguments of ``JTFSPaths`` / ``SCRAPLLoss``) and named configs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from trainables.core.checks import check_int
from trainables.core.filters import JTFSFilterBank, morlet_params


@dataclass(frozen=True)
class JTFSSettings:
    """JTFS hyperparameters with the released code's defaults: ``T = 2**J``, ``F = 2**J_fr``.

    Argument names mirror the released ``scrapl-loss`` constructor (``shape`` is the signal length
    ``N``). Invalid values raise ``ValueError`` naming the argument and the allowed range.
    """

    shape: int
    J: int
    Q1: int
    Q2: int
    J_fr: int
    Q_fr: int
    T: int | None = None
    F: int | None = None

    def __post_init__(self) -> None:
        N = check_int("shape", self.shape, 16)
        check_int("J", self.J, 1, int(math.floor(math.log2(N))))
        check_int("Q1", self.Q1, 1, 64)
        check_int("Q2", self.Q2, 1, 64)
        check_int("J_fr", self.J_fr, 1, 10)
        check_int("Q_fr", self.Q_fr, 1, 64)
        if self.T is not None:
            check_int("T", self.T, 1, N)
        if self.F is not None:
            check_int("F", self.F, 1, 2**self.J_fr)
        # Every second-order wavelet must subsample no further than the temporal low-pass (the
        # path rows then all end at N_pad / 2**j2; notes §4 step 3).
        _, _, j2 = morlet_params(self.J, self.Q2)
        if self.log2_T < max(j2):
            raise ValueError(
                f"T must be >= 2**{max(j2)} = {2 ** max(j2)} for J={self.J}, Q2={self.Q2} "
                f"(the coarsest second-order wavelet subsamples by 2**{max(j2)}), got T={self.T_}"
            )
        n1 = len(morlet_params(self.J, self.Q1)[0])
        if self.filter_bank.N_fr < n1:
            raise ValueError(
                f"J_fr={self.J_fr} and F={self.F_} give a frequential length "
                f"{self.filter_bank.N_fr} shorter than the {n1} first-order filters"
            )
        if max(self.filter_bank.padding[1:]) >= N:
            raise ValueError(f"shape={N} is too short for T={self.T_}: the padding would exceed it")

    @property
    def T_(self) -> int:
        """Resolved temporal support (``2**J`` when ``T`` is None)."""
        return 2**self.J if self.T is None else self.T

    @property
    def F_(self) -> int:
        """Resolved frequential support (``2**J_fr`` when ``F`` is None)."""
        return 2**self.J_fr if self.F is None else self.F

    @property
    def log2_T(self) -> int:
        return int(math.floor(math.log2(self.T_)))

    @cached_property
    def filter_bank(self) -> JTFSFilterBank:
        return JTFSFilterBank(
            N=self.shape, J=self.J, Q1=self.Q1, Q2=self.Q2, J_fr=self.J_fr, Q_fr=self.Q_fr, T=self.T_, F=self.F_
        )

    def as_kwargs(self) -> dict[str, int | None]:
        return dict(
            shape=self.shape, J=self.J, Q1=self.Q1, Q2=self.Q2, J_fr=self.J_fr, Q_fr=self.Q_fr, T=self.T, F=self.F
        )


# The paper's configurations (notes §1) plus the timing-only "tiny" one, with their sample rates.
NAMED_SETTINGS: dict[str, tuple[JTFSSettings, int]] = {
    "tiny": (JTFSSettings(8192, 8, 8, 2, 3, 2), 8192),
    "granular": (JTFSSettings(32768, 12, 8, 2, 3, 2), 8192),
    "chirplet": (JTFSSettings(32768, 12, 8, 2, 3, 2), 8192),
    "tr808": (JTFSSettings(44100, 12, 8, 2, 5, 2, T=2048, F=1), 44100),
}
