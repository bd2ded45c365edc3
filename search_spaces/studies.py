"""The studies a user can run, as ``StudySpec`` builders (paper Tables 1, 2/6, 3/7, and an HPO).

* ``ablation``  — Table 2: cumulative rows SCRAPL → +P-Adam → +P-SAGA → +θ-IS, or the full 2×2×2
  factorial of the three techniques (``factorial=True``);
* ``losses``    — Table 1: full JTFS, SCRAPL without and with θ-IS, the four MSS variants and P-loss
  on one preset; the expensive ``jtfs`` arm runs only the first ``jtfs_seeds`` seeds;
* ``theta_is``  — Tables 3/7: uniform vs θ-IS path sampling (both with P-Adam + P-SAGA) on the four
  chirplet configurations (one preset each);
* ``hpo``       — Optuna (TPE) + ASHA over lr (log), batch size, weight decay and the P-Adam/Adam
  moment rates of one arm, minimising ``val_theta_l1`` (``val_loss`` on recordings, which have no θ);
  its best config can seed an ablation (``overrides``).

Arm names are stable and readable (``scrapl``, ``p-adam``, ``p-adam+p-saga``, ...): they are the
MLflow ``scrapl.arm`` tag and the rows of the tables, in the order given here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces.spec import Arm, Fault, HpoSettings, Param, SpecError, StudySpec

__all__ = [
    "TECHNIQUES",
    "technique_arm",
    "ablation_arms",
    "loss_arms",
    "theta_is_arms",
    "ARM_LIBRARY",
    "ablation",
    "losses",
    "theta_is",
    "hpo",
    "default_hpo_params",
    "smoke_preset",
    "CHIRPLET_PRESETS",
    "BUILDERS",
]

# (arm-name token, config field, label in tables) in the paper's order
TECHNIQUES = (
    ("p-adam", "train.p_adam", "P-Adam"),
    ("p-saga", "train.p_saga", "P-SAGA"),
    ("theta-is", "train.theta_is", "θ-IS"),
)
CHIRPLET_PRESETS = ("chirplet-lo-lo", "chirplet-lo-med", "chirplet-hi-med", "chirplet-hi-hi")


def technique_arm(enabled: Sequence[str]) -> Arm:
    """SCRAPL with the given techniques (tokens of ``TECHNIQUES``) on; all three set explicitly."""
    tokens = [t for t, _, _ in TECHNIQUES]
    unknown = [e for e in enabled if e not in tokens]
    if unknown:
        raise SpecError("arms", f"unknown technique(s) {', '.join(unknown)}; known: {', '.join(tokens)}")
    on = [t for t in tokens if t in enabled]  # canonical order
    overrides = (("train.loss", "scrapl"),) + tuple((key, tok in on) for tok, key, _ in TECHNIQUES)
    labels = {t: label for t, _, label in TECHNIQUES}
    name = "+".join(on) if on else "scrapl"
    label = "SCRAPL" if not on else " ".join(f"+{labels[t]}" for t in on)
    return Arm(name, overrides, label)


def ablation_arms(factorial: bool = False) -> tuple[Arm, ...]:
    """Cumulative (Table 2) or all 8 combinations, fewest techniques first."""
    tokens = [t for t, _, _ in TECHNIQUES]
    if not factorial:
        return tuple(technique_arm(tokens[:k]) for k in range(len(tokens) + 1))
    combos = [c for k in range(len(tokens) + 1) for c in itertools.combinations(tokens, k)]
    return tuple(technique_arm(c) for c in combos)


# The losses study's paired comparisons: every other loss against SCRAPL (all three techniques).
LOSSES_REFERENCE = technique_arm(["p-adam", "p-saga", "theta-is"]).name


def loss_arms(jtfs_seeds: int | None = 1) -> tuple[Arm, ...]:
    """Table 1 rows that this code base implements (MS-CLAP and PANNs are not)."""
    full = technique_arm(["p-adam", "p-saga", "theta-is"])
    no_is = technique_arm(["p-adam", "p-saga"])
    return (
        Arm("jtfs", (("train.loss", "jtfs"),), "JTFS", jtfs_seeds),
        Arm(no_is.name, no_is.overrides, "SCRAPL (no θ-IS)"),
        Arm(full.name, full.overrides, "SCRAPL"),
        Arm("mss-linear", (("train.loss", "mss-linear"),), "MSS Linear"),
        Arm("mss-log-linear", (("train.loss", "mss-log-linear"),), "MSS Log + Linear"),
        Arm("mss-revisited", (("train.loss", "mss-revisited"),), "MSS Revisited"),
        Arm("mss-random", (("train.loss", "mss-random"),), "MSS Random"),
        Arm("p-loss", (("train.loss", "p-loss"),), "P-loss"),
    )


def theta_is_arms() -> tuple[Arm, ...]:
    """Table 3: SCRAPL (P-Adam + P-SAGA) with uniform or θ-IS path probabilities."""
    base = (("train.loss", "scrapl"), ("train.p_adam", True), ("train.p_saga", True))
    return (
        Arm("uniform", base + (("train.theta_is", False),), "Uniform"),
        Arm("theta-is", base + (("train.theta_is", True),), "θ-IS"),
    )


def _library() -> dict[str, Arm]:
    arms: dict[str, Arm] = {}
    for arm in ablation_arms(factorial=True) + loss_arms(None) + theta_is_arms():
        arms.setdefault(arm.name, arm)
    return arms


ARM_LIBRARY: dict[str, Arm] = _library()  # every named arm, e.g. for ``hpo(arm=...)``


def smoke_preset(preset: str) -> str:
    """The smoke-scale twin of a preset (``granular``, ``mini-granular`` or ``repl-granular`` →
    ``smoke-granular``);
    ``SpecError`` for an unknown preset (named as given)."""
    from trainables.presets import PRESETS  # lazy: the presets import torch; the CLI's --help stays fast

    if preset not in PRESETS:
        raise SpecError("presets", f"unknown preset {preset!r}; choose one of: {', '.join(sorted(PRESETS))}")
    if preset.startswith("smoke-"):
        return preset
    base = preset.split("-", 1)[1] if preset.startswith(("mini-", "repl-")) else preset
    twin = f"smoke-{base}"
    if twin not in PRESETS:
        smoke = ", ".join(sorted(p for p in PRESETS if p.startswith("smoke-")))
        raise SpecError(
            "presets", f"preset {preset!r} has no smoke-scale twin {twin!r}; with --smoke-test choose one of: {smoke}"
        )
    return twin


def _select_arms(arms: tuple[Arm, ...], only: Sequence[str] | None) -> tuple[Arm, ...]:
    if not only:
        return arms
    by_name = {a.name: a for a in arms}
    unknown = [a for a in only if a not in by_name]
    if unknown:
        raise SpecError("arms", f"unknown arm(s) {', '.join(unknown)}; this study's arms: {', '.join(by_name)}")
    return tuple(by_name[a] for a in only)


def _faults(faults: Sequence[Fault | str]) -> tuple[Fault, ...]:
    return tuple(f if isinstance(f, Fault) else Fault.parse(f) for f in faults)


def ablation(
    name: str,
    preset: str = "granular",
    seeds: Sequence[int] = tuple(range(20)),
    *,
    factorial: bool = False,
    arms: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    faults: Sequence[Fault | str] = (),
    smoke_test: bool = False,
) -> StudySpec:
    kind = "factorial 2×2×2" if factorial else "cumulative (paper Table 2)"
    return StudySpec(
        "ablation",
        name,
        (preset,),
        _select_arms(ablation_arms(factorial), arms),
        tuple(seeds),
        tuple((overrides or {}).items()),
        _faults(faults),
        smoke_test=smoke_test,
        description=f"SCRAPL ablation, {kind}, on {preset}",
    )


def losses(
    name: str,
    preset: str = "granular",
    seeds: Sequence[int] = tuple(range(20)),
    *,
    jtfs_seeds: int = 1,
    arms: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    faults: Sequence[Fault | str] = (),
    smoke_test: bool = False,
) -> StudySpec:
    return StudySpec(
        "losses",
        name,
        (preset,),
        _select_arms(loss_arms(jtfs_seeds), arms),
        tuple(seeds),
        tuple((overrides or {}).items()),
        _faults(faults),
        smoke_test=smoke_test,
        description=f"loss comparison (paper Table 1) on {preset}; JTFS on {jtfs_seeds} seed(s)",
    )


def theta_is(
    name: str,
    presets: Sequence[str] = CHIRPLET_PRESETS,
    seeds: Sequence[int] = tuple(range(20)),
    *,
    arms: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    faults: Sequence[Fault | str] = (),
    smoke_test: bool = False,
) -> StudySpec:
    return StudySpec(
        "theta-is",
        name,
        tuple(presets),
        _select_arms(theta_is_arms(), arms),
        tuple(seeds),
        tuple((overrides or {}).items()),
        _faults(faults),
        smoke_test=smoke_test,
        description="uniform vs θ-IS path sampling (paper Tables 3/7) on " + ", ".join(presets),
    )


def _data_of(preset: str, overrides: Mapping[str, Any] | None):
    """The preset's ``RunConfig`` with the ``data.*`` overrides (batch size aside) applied when valid."""
    from trainables.config import ConfigError, override  # torch (presets): only when an HPO spec is built
    from trainables.presets import get_preset

    cfg = get_preset(preset)
    data_keys = {k: v for k, v in (overrides or {}).items() if k.startswith("data.") and k != "data.batch_size"}
    try:
        return override(cfg, **data_keys)
    except ConfigError:  # reported by the spec's own config check, naming --set
        return cfg


def default_hpo_params(preset: str, arm: str, overrides: Mapping[str, Any] | None = None) -> tuple[Param, ...]:
    """lr (log, a decade either side of the preset's), batch size (the powers of two from half to twice
    the preset's that fit the smallest split of the run's own data — θ grid, synthetic one-shots, or
    the one-shot folder and ``data.split_sizes`` given in ``overrides``), weight decay (log) and, for
    SCRAPL arms, β1/β2 (P-Adam's moment rates with P-Adam, AdamW's otherwise)."""
    from trainables.build import expected_split_counts  # torch: only when an HPO spec is built

    cfg = _data_of(preset, overrides)
    counts = expected_split_counts(cfg)
    smallest = min(counts.values()) if counts else cfg.data.batch_size
    bs = cfg.data.batch_size
    sizes = tuple(b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256) if max(1, bs // 2) <= b <= 2 * bs and b <= smallest)
    params = [
        Param("train.lr", "log", cfg.train.lr / 10, cfg.train.lr * 10),
        Param("data.batch_size", "choice", choices=sizes or (min(bs, smallest),)),
        Param("train.weight_decay", "log", 1e-4, 1e-1),
    ]
    if dict(ARM_LIBRARY[arm].overrides).get("train.loss") == "scrapl":
        params += [Param("train.beta1", "uniform", 0.8, 0.95), Param("train.beta2", "choice", choices=(0.99, 0.999))]
    return tuple(params)


def hpo(
    name: str,
    preset: str = "granular",
    seed: int = 0,
    *,
    arm: str = "p-adam+p-saga+theta-is",
    num_samples: int = 20,
    params: Sequence[Param] | None = None,
    overrides: Mapping[str, Any] | None = None,
    smoke_test: bool = False,
    seeds_per_trial: int = 1,
) -> StudySpec:
    if arm not in ARM_LIBRARY:
        raise SpecError("hpo.arm", f"unknown arm {arm!r}; choose one of {', '.join(ARM_LIBRARY)}")
    chosen = ARM_LIBRARY[arm]
    metric = "val_theta_l1" if _data_of(preset, overrides).has_theta else "val_loss"  # recordings have no θ
    settings = HpoSettings(
        tuple(params) if params is not None else default_hpo_params(preset, arm, overrides),
        num_samples,
        metric=metric,
        seeds_per_trial=seeds_per_trial,
    )
    tuned = {p.key for p in settings.params}
    clash = sorted(tuned & ({k for k, _ in chosen.overrides} | set(overrides or {})))
    if clash:
        raise SpecError("hpo.params", f"{', '.join(clash)} cannot be both tuned and fixed")
    on = f", seeds {seed}-{seed + seeds_per_trial - 1} per trial (their mean)" if seeds_per_trial > 1 else ""
    return StudySpec(
        "hpo",
        name,
        (preset,),
        (Arm(chosen.name, chosen.overrides, chosen.label),),
        (seed,),
        tuple((overrides or {}).items()),
        hpo=settings,
        smoke_test=smoke_test,
        description=f"Optuna TPE + ASHA over {', '.join(sorted(tuned))} for arm {arm} on {preset}{on}",
    )


BUILDERS = {"ablation": ablation, "losses": losses, "theta-is": theta_is, "hpo": hpo}
