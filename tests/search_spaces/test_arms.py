"""The pieces of a grid study: a fault parses from its ``ARM/SEED:KIND@STEP`` text."""

from search_spaces.arms import Fault


def test_fault_parse():
    assert Fault.parse("p-adam+p-saga/12:crash-once@30") == Fault("p-adam+p-saga", 12, "crash-once", 30)
