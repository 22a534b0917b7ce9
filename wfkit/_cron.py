"""Cron schedules for `Workflow.schedule`: five-field cron, @descriptors and `@every <duration>`.

Five-field specs are evaluated by `cronsim` (lists, ranges, steps, month/day names, weekday 7 =
Sunday, and the standard cron rule that day-of-month and day-of-week are OR-ed when both are
restricted). A field that is just `?` means `*`, as in the Go library. Every parse error is a
`ConfigurationError` that names the spec and the problem; cronsim's exceptions never escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cronsim import CronSim

from ._errors import ConfigurationError

__all__ = ["CronSchedule"]

_CRON_HINT = "use standard five-field cron, e.g. '0 * * * *', or @hourly/@daily/@every 15m"
_EVERY_HINT = "use '@every <duration>' with a positive duration such as 90s, 15m or 1h30m"

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# (name as cronsim spells it in its errors, lowest value, highest value)
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:h|ms|m|s))+")
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(h|ms|m|s)")
_PROBE = datetime(2000, 1, 1)


def _invalid(spec: str, what: str, hint: str = _CRON_HINT) -> ConfigurationError:
    return ConfigurationError(f"invalid cron spec {spec!r}: {what}; {hint}")


def _parse_every(spec: str, words: list[str]) -> timedelta:
    if len(words) != 2:
        raise _invalid(spec, "@every takes exactly one duration", _EVERY_HINT)
    text = words[1]
    if not _DURATION.fullmatch(text):
        raise _invalid(spec, f"bad duration {text!r} in @every", _EVERY_HINT)
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
    every = timedelta(seconds=seconds)
    if every <= timedelta(0):
        raise _invalid(spec, f"@every duration must be > 0, got {text!r}", _EVERY_HINT)
    return every


def _diagnose(fields: list[str], exc: Exception) -> str:
    """Turn a cronsim failure into a message naming the field and the bad value."""
    for text, (name, lo, hi) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            for token in item.split("/")[0].split("-"):
                digits = token.isascii() and token.isdigit()
                if digits and (len(token) > 3 or not lo <= int(token) <= hi):
                    return f"{name} value {token} out of range [{lo}-{hi}]"
    culprit = str(exc).removeprefix("Bad ")
    for text, (name, _, _) in zip(fields, _FIELDS, strict=True):
        if name != culprit:
            continue
        if name == "day-of-month":
            try:
                CronSim(" ".join([*fields[:3], "*", fields[4]]), _PROBE)
            except Exception:  # the day field is bad on its own, not only with this month
                pass
            else:
                return f"day-of-month {text!r} never occurs in month {fields[3]!r}"
        return f"invalid {name} field {text!r}"
    return "not a valid five-field cron expression"


def _compile(spec: str) -> tuple[str, timedelta | None]:
    """Return (five-field expression, None) or ("", @every duration)."""
    if not isinstance(spec, str):
        raise ConfigurationError(f"cron spec must be a string, got {type(spec).__name__}")
    words = spec.split()
    if not words:
        raise _invalid(spec, "spec is empty")
    if words[0].startswith("@"):
        head = words[0].lower()
        if head == "@every":
            return "", _parse_every(spec, words)
        if len(words) == 1 and head in _DESCRIPTORS:
            return _DESCRIPTORS[head], None
        known = ", ".join(sorted(_DESCRIPTORS))
        raise _invalid(spec, f"unknown descriptor {' '.join(words)!r} (known: {known}, @every)")
    if len(words) != 5:
        what = "minute hour day-of-month month day-of-week"
        raise _invalid(spec, f"expected 5 fields ({what}), got {len(words)}")
    fields = ["*" if w == "?" else w for w in words]
    expr = " ".join(fields)
    try:
        CronSim(expr, _PROBE)
    except Exception as exc:  # cronsim raises CronSimError, and ValueError on huge numbers
        raise _invalid(spec, _diagnose(fields, exc)) from None
    return expr, None


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule; build it with `CronSchedule.parse(spec)` (or `CronSchedule(spec)`)."""

    spec: str
    _expr: str = field(init=False, default="", repr=False, compare=False)
    _every: timedelta | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        expr, every = _compile(self.spec)
        object.__setattr__(self, "_expr", expr)
        object.__setattr__(self, "_every", every)

    @classmethod
    def parse(cls, spec: str) -> CronSchedule:
        """Parse `spec`; raises `ConfigurationError` naming the spec and what is wrong."""
        return cls(spec)

    def next_after(self, when: datetime) -> datetime:
        """First fire time strictly after `when`, in its tzinfo; `@every d` gives `when + d`."""
        aware = when.utcoffset() is not None
        try:
            if self._every is not None:
                if not aware:
                    return when + self._every
                return (when.astimezone(UTC) + self._every).astimezone(when.tzinfo)
            times = CronSim(self._expr, when)
            result = next(times)
            # cronsim matches wall-clock times; in a repeated DST hour the match may be
            # earlier than `when` in absolute time, so step on until it is really after.
            while aware and result.astimezone(UTC) <= when.astimezone(UTC):
                result = next(times)
        except (StopIteration, OverflowError):
            raise ConfigurationError(
                f"cron spec {self.spec!r} has no fire time after {when.isoformat()}"
            ) from None
        return result
