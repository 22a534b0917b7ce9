"""CronSchedule: the luno cron table (internal/cron) plus cronsim's lists, ranges and steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wfkit._cron import CronSchedule
from wfkit._errors import ConfigurationError

D = datetime


@pytest.mark.parametrize(
    ("spec", "when", "expected"),
    [
        ("@hourly", D(2025, 1, 1, 10, 30), D(2025, 1, 1, 11, 0)),
        ("@hourly", D(2025, 1, 1, 10, 0), D(2025, 1, 1, 11, 0)),
        ("@daily", D(2025, 1, 1, 10, 0), D(2025, 1, 2, 0, 0)),
        ("@midnight", D(2025, 1, 1, 0, 0), D(2025, 1, 2, 0, 0)),
        ("@weekly", D(2025, 1, 1), D(2025, 1, 5)),  # Wed -> Sun
        ("@monthly", D(2025, 1, 15, 8, 0), D(2025, 2, 1)),
        ("@monthly", D(2025, 1, 1), D(2025, 2, 1)),
        ("@yearly", D(2025, 1, 1), D(2026, 1, 1)),
        ("@annually", D(2025, 6, 1), D(2026, 1, 1)),
        ("@HOURLY", D(2025, 1, 1, 10, 30), D(2025, 1, 1, 11, 0)),
        ("0 0 1 1 0", D(2025, 1, 1), D(2025, 1, 5)),  # day-of-month OR day-of-week
        ("59 23 31 12 6", D(2025, 1, 1), D(2025, 12, 6, 23, 59)),
        ("0 0 29 2 *", D(2025, 1, 1), D(2028, 2, 29)),
        ("0 0 * * 7", D(2025, 1, 1), D(2025, 1, 5)),  # 7 = Sunday
        ("0 0 ? * 0", D(2025, 1, 1), D(2025, 1, 5)),  # ? = *
        ("*/15 * * * *", D(2025, 1, 1, 10, 0), D(2025, 1, 1, 10, 15)),
        ("*/15 * * * *", D(2025, 1, 1, 10, 46), D(2025, 1, 1, 11, 0)),
        ("1,15 * * * *", D(2025, 1, 1, 10, 1), D(2025, 1, 1, 10, 15)),
        ("1,15 * * * *", D(2025, 1, 1, 10, 15), D(2025, 1, 1, 11, 1)),
        ("0 9-17 * * 1-5", D(2025, 1, 3, 17, 0), D(2025, 1, 6, 9, 0)),  # Fri -> Mon
        ("* * * * *", D(2025, 1, 1, 10, 0, 30, 5), D(2025, 1, 1, 10, 1)),
        ("  0   *  * * *  ", D(2025, 1, 1, 10, 30), D(2025, 1, 1, 11, 0)),
        ("@every 1h30m", D(2025, 1, 1, 10, 7, 3), D(2025, 1, 1, 11, 37, 3)),
        ("@every 90s", D(2025, 1, 1, 10, 0), D(2025, 1, 1, 10, 1, 30)),
        ("@every 15m", D(2025, 1, 1, 23, 50), D(2025, 1, 2, 0, 5)),
        ("@every 2h", D(2025, 1, 1, 23, 0), D(2025, 1, 2, 1, 0)),
        ("@every 1.5h", D(2025, 1, 1), D(2025, 1, 1, 1, 30)),
    ],
)
def test_next_after(spec: str, when: datetime, expected: datetime) -> None:
    got = CronSchedule.parse(spec).next_after(when)
    assert got == expected
    assert got.tzinfo is None


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "spec is empty"),
        ("   ", "spec is empty"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "got 6"),
        ("abc", "got 1"),
        ("abc * * * *", "invalid minute field 'abc'"),
        ("-1 * * * *", "invalid minute field '-1'"),
        ("60 * * * *", "minute value 60 out of range [0-59]"),
        ("0 24 * * *", "hour value 24 out of range [0-23]"),
        ("0 0 32 * *", "day-of-month value 32 out of range [1-31]"),
        ("0 0 0 * *", "day-of-month value 0 out of range [1-31]"),
        ("0 0 * 13 *", "month value 13 out of range [1-12]"),
        ("0 0 * 0 *", "month value 0 out of range [1-12]"),
        ("0 0 * * 8", "day-of-week value 8 out of range [0-7]"),
        ("1,60 * * * *", "minute value 60 out of range"),
        ("0 9-25 * * *", "hour value 25 out of range"),
        ("9" * 5000 + " * * * *", "out of range"),
        ("*/0 * * * *", "invalid minute field '*/0'"),
        ("0 0 30 2 *", "day-of-month '30' never occurs in month '2'"),
        ("@fortnightly", "unknown descriptor '@fortnightly'"),
        ("@hourly 5", "unknown descriptor"),
        ("@every", "@every takes exactly one duration"),
        ("@every 1h 30m", "@every takes exactly one duration"),
        ("@every 0s", "@every duration must be > 0"),
        ("@every 0", "bad duration '0'"),
        ("@every 15", "bad duration '15'"),
        ("@every -5m", "bad duration '-5m'"),
        ("@every 1d", "bad duration '1d'"),
    ],
)
def test_parse_errors(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CronSchedule.parse(spec)
    message = str(info.value)
    assert message.startswith(f"invalid cron spec {spec!r}: ")
    assert fragment in message
    assert "e.g." in message or "@every <duration>" in message
    assert info.value.__cause__ is None  # no cronsim exception leaks through the chain
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_error_message_names_the_fix() -> None:
    with pytest.raises(ConfigurationError) as info:
        CronSchedule.parse("60 * * * *")
    assert str(info.value) == (
        "invalid cron spec '60 * * * *': minute value 60 out of range [0-59]; "
        "use standard five-field cron, e.g. '0 * * * *', or @hourly/@daily/@every 15m"
    )


def test_non_string_spec() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        CronSchedule.parse(5)  # type: ignore[arg-type]


def test_constructor_validates_and_value_semantics() -> None:
    with pytest.raises(ConfigurationError):
        CronSchedule("bad")
    a, b = CronSchedule.parse("@hourly"), CronSchedule("@hourly")
    assert a == b
    assert hash(a) == hash(b)
    assert repr(a) == "CronSchedule(spec='@hourly')"
    with pytest.raises(AttributeError):
        a.spec = "@daily"  # type: ignore[misc]


@pytest.mark.parametrize("tz", [UTC, timezone(timedelta(hours=5, minutes=30)), ZoneInfo("Asia/Tokyo")])
def test_aware_keeps_tzinfo(tz: timezone | ZoneInfo) -> None:
    got = CronSchedule.parse("0 9 * * *").next_after(datetime(2025, 1, 1, 10, 0, tzinfo=tz))
    assert got == datetime(2025, 1, 2, 9, 0, tzinfo=tz)
    assert got.tzinfo is tz
    every = CronSchedule.parse("@every 15m").next_after(datetime(2025, 1, 1, 10, 0, tzinfo=tz))
    assert every == datetime(2025, 1, 1, 10, 15, tzinfo=tz)
    assert every.tzinfo is tz


def test_dst_is_evaluated_in_when_zone() -> None:
    london = ZoneInfo("Europe/London")
    # spring forward: 01:30 does not exist on 2025-03-30; cron fires at the first valid time
    got = CronSchedule.parse("30 1 * * *").next_after(datetime(2025, 3, 30, 0, 0, tzinfo=london))
    assert got.tzinfo is london
    assert got > datetime(2025, 3, 30, 0, 0, tzinfo=london)
    # fall back: from the second 01:40, the 01:45 of the first pass is in the past
    when = datetime(2025, 10, 26, 1, 40, fold=1, tzinfo=london)
    nxt = CronSchedule.parse("45 1 * * *").next_after(when)
    assert nxt.astimezone(UTC) > when.astimezone(UTC)
    # @every is elapsed time: 1h after 00:30 BST on the fall-back day is 01:30 BST (fold 0)
    start = datetime(2025, 10, 26, 0, 30, tzinfo=london)
    step = CronSchedule.parse("@every 1h").next_after(start)
    assert step.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=1)
    assert step.tzinfo is london


def test_strictly_after_on_a_match() -> None:
    s = CronSchedule.parse("0 0 * * *")
    first = s.next_after(D(2025, 1, 1))
    assert first == D(2025, 1, 2)
    assert s.next_after(first) == D(2025, 1, 3)
