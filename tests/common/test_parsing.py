"""common.parsing: command-line text to values, with argparse printing the message as it is."""

import argparse

import pytest

from common.parsing import POSITIVE, csv_list, int_arg, key_value, parse_value


def test_csv_list_strips_items():
    assert csv_list("a, b ,c") == ["a", "b", "c"]
    assert csv_list("one") == ["one"]


@pytest.mark.parametrize("text", ["", "  ", "a,,b", "a,", ",a"])
def test_csv_list_refuses_empty_items(text):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        csv_list(text)
    assert str(err.value) == f"expected a comma-separated list without empty items, got {text!r}"
    with pytest.raises(ValueError):
        csv_list(text, error=ValueError)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("1e-4", 1e-4),
        ("true", True),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('"x"', "x"),
        ("granular", "granular"),
        ("", ""),
        ("/abs/pi.json", "/abs/pi.json"),
    ],
)
def test_parse_value_is_a_json_literal_or_the_text(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_key_value():
    assert key_value(" train.lr =1e-4") == ("train.lr", 1e-4)
    assert key_value("data.source=grid") == ("data.source", "grid")
    assert key_value("a=b=c") == ("a", "b=c")
    for bad in ("train.lr", "=3", " =3"):
        with pytest.raises(argparse.ArgumentTypeError) as err:
            key_value(bad)
        assert str(err.value) == f"expected KEY=VALUE (a dotted config key, e.g. train.max_steps=8), got {bad!r}"
    with pytest.raises(ValueError, match=r"^--set expects KEY=VALUE, got 'x'$"):
        key_value("x", error=ValueError, message="--set expects KEY=VALUE, got {text!r}")


def test_int_arg_messages():
    count, count0, positive = int_arg(), int_arg(0), int_arg(messages=POSITIVE)
    assert count("3") == 3 and count0("0") == 0 and positive(" 7 ") == 7
    cases = [
        (count, "0", "must be >= 1, got 0"),
        (count0, "-1", "must be >= 0, got -1"),
        (count, "x", "expected an integer, got 'x'"),
        (count, "1.5", "expected an integer, got '1.5'"),
        (positive, "0", "expected a positive integer, got 0"),
        (int_arg(1, 9), "10", "must be <= 9, got 10"),
    ]
    for parse, text, message in cases:
        with pytest.raises(argparse.ArgumentTypeError) as err:
            parse(text)
        assert str(err.value) == message


def test_int_arg_through_argparse(capsys):
    ap = argparse.ArgumentParser(prog="p")
    ap.add_argument("--n", type=int_arg(messages=POSITIVE))
    assert ap.parse_args(["--n", "4"]).n == 4
    with pytest.raises(SystemExit):
        ap.parse_args(["--n", "0"])
    assert "argument --n: expected a positive integer, got 0" in capsys.readouterr().err
