"""Experiment presets (filled in by the experiments issue)."""
PRESETS: dict = {}


def get_preset(name: str):
    raise ValueError(f"unknown preset {name!r}")
