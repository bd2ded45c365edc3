"""Text to values for the command lines: comma lists, ``KEY=VALUE`` literals, integer options.

These only parse (and, for integer options, apply the one range check the option's type implies);
validation of the parsed values belongs to the settings objects. Errors are
``argparse.ArgumentTypeError`` by default so that argparse prints the message as it is
(``argument --arms: expected a comma-separated list ...``); pass ``error=ValueError`` elsewhere.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from common.checks import DETAIL, ErrorFactory, IntMessages, check_int

__all__ = ["csv_list", "parse_value", "key_value", "int_arg", "POSITIVE"]

POSITIVE = IntMessages("expected an integer, got {value!r}", "expected a positive integer, got {value}")
"""``expected a positive integer, got 0`` (the analysis CLI's wording for counts >= 1)."""


def csv_list(text: str, *, error: ErrorFactory = argparse.ArgumentTypeError) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; empty text or an empty item is an error."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise error(f"expected a comma-separated list without empty items, got {text!r}")
    return items


def parse_value(text: str) -> Any:
    """A ``KEY=VALUE`` right-hand side: a JSON literal (``8``, ``1e-4``, ``true``, ``[1, 2]``, ``null``)
    when it parses as one, else the text itself (``granular``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def key_value(
    text: str,
    *,
    error: ErrorFactory = argparse.ArgumentTypeError,
    message: str = "expected KEY=VALUE (a dotted config key, e.g. train.max_steps=8), got {text!r}",
) -> tuple[str, Any]:
    """``"train.lr=1e-4"`` -> ``("train.lr", 0.0001)``: the key stripped, the value by :func:`parse_value`.
    A missing ``=`` or an empty key raises ``error(message)`` (``message`` may use ``{text}``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise error(message.format(text=text))
    return key.strip(), parse_value(raw)


def int_arg(
    low: int | None = 1,
    high: int | None = None,
    *,
    messages: IntMessages = DETAIL,
    error: ErrorFactory = argparse.ArgumentTypeError,
) -> Callable[[str], int]:
    """An argparse ``type=``: ``int(text)`` checked to lie in ``[low, high]``.

    ``int_arg()`` reads a count >= 1 (``must be >= 1, got 0``); ``int_arg(0)`` one >= 0;
    ``int_arg(messages=POSITIVE)`` words it ``expected a positive integer, got 0``.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise error(messages.not_int.format(name="", value=text)) from None
        return check_int("", value, low, high, error=error, messages=messages)

    parse.__name__ = "int" if low is None else f"int>={low}"
    return parse
