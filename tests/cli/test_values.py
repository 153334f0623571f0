"""The edge parsers: boundaries are inclusive as CONTRACT.md states them; times end up aware UTC."""

from datetime import datetime, timezone

import pytest

from cli import values
from cli.errors import sentence


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T14:30:00Z", datetime(2026, 3, 1, 14, 30, tzinfo=timezone.utc)),
    ("2026-03-01T14:30:00+02:00", datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)),
    ("2026-03-01T14:30:00.250-05:30", datetime(2026, 3, 1, 20, 0, 0, 250000, tzinfo=timezone.utc)),
    (" 2026-03-01T14:30Z ", datetime(2026, 3, 1, 14, 30, tzinfo=timezone.utc)),
])
def test_times_with_an_offset_are_taken_as_given(text: str, expected: datetime) -> None:
    parsed = values.iso_time(text)
    assert parsed == expected and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_naive_time_is_local_time() -> None:
    parsed = values.iso_time("2026-07-01T09:15:00")
    assert parsed == datetime(2026, 7, 1, 9, 15).astimezone().astimezone(timezone.utc)
    assert parsed.tzinfo is timezone.utc


@pytest.mark.parametrize("text", ["", "today", "2026-02-29T10:00:00", "2026-03-01T24:01", "9" * 70, "0000-01-01"])
def test_malformed_times_say_so_in_one_sentence(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        values.iso_time(text)
    assert "ISO 8601" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("parse, good, bad", [
    (values.number(30, 45), ["30", "45", "38.0", " 39.4 "], ["29.99", "45.01", "nan", "inf", "abc", "", "1" * 40]),
    (values.number(0, 6, integer=True), ["0", "6"], ["-1", "7", "2.5", "two"]),
    (values.number(0.21, 1.0), ["0.21", "1", "1.0"], ["0.2", "1.01"]),
    (values.number(0, 10_000, low_open=True), ["0.001", "10000"], ["0", "-5", "10000.5"]),
])
def test_number_ranges_are_inclusive(parse, good: list[str], bad: list[str]) -> None:  # type: ignore[no-untyped-def]
    for text in good:
        parse(text)
    for text in bad:
        with pytest.raises(ValueError):
            parse(text)


def test_out_of_range_message_names_the_value_and_the_limit() -> None:
    with pytest.raises(ValueError) as refused:
        values.number(30, 45, unit="°C")("50")
    assert str(refused.value) == "50 is out of range: it must be at most 45 °C"


def test_text_is_one_printable_line_within_its_limit() -> None:
    assert values.text(10)("  fine note ") == "fine note"
    assert values.text(20)("Ünïcødé 🚑 ok") == "Ünïcødé 🚑 ok"
    for bad in ("", "   ", "a" * 11, "a\nb", "a\x00b", "a\u202eb", "a\ud800b"):
        with pytest.raises(ValueError):
            values.text(10)(bad)


def test_patient_refs_and_episode_ids() -> None:
    assert values.patient_ref(" DC-15 ") == "DC-15"
    for bad in ("Jane Doe", "-x", "a" * 65, "ü", ""):
        with pytest.raises(ValueError):
            values.patient_ref(bad)
    assert values.episode_id("e7k2qd") == "E7K2QD"
    assert values.episode_id("EO1L5") == "E0115"  # look-alikes forgiven, as persistence stores ids
    for bad in ("a b", "", "E" * 65, "-E1"):
        with pytest.raises(ValueError):
            values.episode_id(bad)


def test_sentence_is_one_line_with_a_full_stop() -> None:
    assert sentence("no episode E1") == "No episode E1."
    assert sentence("two\nlines\x00 here") == "Two lines\\x00 here."
    long = sentence("x" * 1000)
    assert len(long) <= 401 and long.endswith("….")


def test_capd_is_a_whole_total_0_to_32_or_unable() -> None:
    assert [values.capd(text) for text in ("0", "8", "9", "32", " 31 ")] == [0, 8, 9, 32, 31]
    assert values.capd("unable") == values.capd(" UNABLE ") == "unable"
    for bad in ("33", "-1", "abc", "8.5", "", "unabl", "9" * 40):
        with pytest.raises(ValueError) as refused:
            values.capd(bad)
        assert "'unable'" in str(refused.value) and "\n" not in str(refused.value)


def test_drug_names_fold_case_and_unknown_ones_list_the_known() -> None:
    assert values.drug("Dexamethasone") == values.drug("DEXAMETHASONE") == "dexamethasone"
    assert values.drug(" Tocilizumab ") == "tocilizumab"
    with pytest.raises(ValueError) as refused:
        values.drug("aspirin")
    assert "tocilizumab" in str(refused.value) and "cyclophosphamide" in str(refused.value)


def test_the_dose_floor_is_inclusive_at_0_1_mg() -> None:
    from cli.commands.steps import MIN_DOSE_MG

    parse = values.number(MIN_DOSE_MG, 10_000, unit="mg")
    assert [parse(text) for text in ("0.1", "0.10", "10000")] == [0.1, 0.1, 10_000]
    for bad in ("0.0999", "0.05", "0", "1e-300", "-0"):
        with pytest.raises(ValueError) as refused:
            parse(bad)
        assert "at least 0.1 mg" in str(refused.value)
