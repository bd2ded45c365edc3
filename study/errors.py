"""The one exception the study CLI turns into a clean ``error:`` message (exit status 2)."""

from __future__ import annotations


class StudyError(ValueError):
    """Bad user input or an unusable environment, detected before any trial is scheduled.

    ``option`` is the CLI option (or spec field) at fault; the message starts with it.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
