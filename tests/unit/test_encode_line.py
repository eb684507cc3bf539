"""A batch line is the text `json.dumps(record, ensure_ascii=False)` gives, written by ujson."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from imr_llm.batch import encode_line, summarize_record
from imr_llm.settings import Settings
from tests.helpers import real_letters


def reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_every_code_point_is_written_as_json_writes_it() -> None:
    """Each code point, surrogates and controls too, in strings and in keys, as json has it."""
    chunks = ["".join(map(chr, range(lo, min(lo + 512, 0x110000))))
              for lo in range(0, 0x110000, 512)]
    record = {"values": chunks, "keys": {chunk[:8]: i for i, chunk in enumerate(chunks)}}
    assert encode_line(record) == reference(record)


@pytest.mark.parametrize("exponent", range(-325, 309))
def test_floats_of_every_exponent_are_written_as_json_writes_them(exponent: int) -> None:
    """Floats from 5e-324 up to 1.8e308, short and long mantissas, both signs."""
    rng = random.Random(exponent)
    values = [float(f"{m}e{exponent}") for m in ("1", "2.5", "9.999", "-1.25", "-7")]
    values += [rng.uniform(1, 10) * 10.0**exponent for _ in range(20)]
    record = {"floats": [v for v in values if math.isfinite(v)]}
    assert encode_line(record) == reference(record)


def test_special_values_and_nesting_are_written_as_json_writes_them() -> None:
    """Zeros, NaN, infinities, big ints, booleans, nulls, tuples and non-string keys."""
    record = {
        "zeros": [0.0, -0.0, 0, -0],
        "odd": [float("nan"), float("inf"), float("-inf")],
        "ints": [2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40, -(10**40)],
        "plain": [True, False, None, "", [], {}, (1, 2), [[{"a": [None]}]]],
        7: "int key", 2.5: "float key", True: "bool key", None: "null key",
        "slash/quote\"back\\slash": "</script> & <b> 'single'",
    }
    assert encode_line(record) == reference(record)


def test_text_with_an_exponent_like_word_is_written_by_json() -> None:
    """A string holding "e-" and a digit, as a float's exponent would, still comes out right."""
    record = {"summary": "Dose 1e-5 of drug e-7, re-8", "value": 1e-05}
    assert encode_line(record) == reference(record) == (
        '{"summary": "Dose 1e-5 of drug e-7, re-8", "value": 1e-05}'
    )


def test_real_letters_records_are_written_as_json_writes_them() -> None:
    """Every labeled real letter's record, rules backend."""
    settings = Settings(backend="rules", use_cache=False)
    for path in real_letters()[:40]:
        record = summarize_record(str(path), settings)
        assert encode_line(record) == reference(record), path.name
