"""Per-process options, their built-in defaults, and how they resolve (step value, then defaults)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import timedelta

from wfkit._errors import ConfigurationError

Duration = timedelta | float | int


def seconds(value: Duration) -> float:
    """A duration given as `timedelta` or seconds, in seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"expected a timedelta or a number of seconds, got {value!r}")
    return float(value)


def as_timedelta(value: Duration) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds(value))


@dataclass(frozen=True, slots=True)
class Backoff:
    """Error backoff: `initial * factor**(n-1)` seconds for the n-th consecutive error, capped at
    `maximum`, spread by up to `jitter` (a fraction) either way."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.factor < 1 or self.maximum < 0 or not 0 <= self.jitter <= 1:
            raise ConfigurationError(
                f"invalid {self!r}: need initial >= 0, factor >= 1, maximum >= 0, 0 <= jitter <= 1"
            )

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        return cls(initial=delay, factor=1.0, maximum=delay)

    def delay(self, attempt: int, random: Callable[[], float]) -> float:
        """Seconds to wait after the `attempt`-th consecutive error (from 1)."""
        base = min(self.initial * self.factor ** max(attempt - 1, 0), self.maximum)
        if self.jitter:
            base *= 1 + self.jitter * (2 * random() - 1)
        return max(base, 0.0)


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """Options of one process; `None` means "inherit" (from `defaults=`, then the built-ins).

    `parallel` shards a step over n consumers; `polling_frequency` is how often receivers and
    pollers look for work other processes wrote; `error_backoff` is seconds or a `Backoff`; `lag`
    delays consumption until an event is that old; `lag_alert` flags a consumer that far behind;
    `pause_after_errors` pauses a run after that many consecutive failures (0 = never);
    `time_limit` cancels a step that runs longer (counted as an error); `concurrency` is how many
    events a step consumer handles at once (runs of one status overlap, so a SQL store commits
    their transitions together; events of one run stay in order).
    """

    parallel: int | None = None
    polling_frequency: float | None = None
    error_backoff: Backoff | None = None
    lag: timedelta | None = None
    lag_alert: timedelta | None = None
    pause_after_errors: int | None = None
    time_limit: float | None = None
    concurrency: int | None = None

    @classmethod
    def of(
        cls,
        *,
        parallel: int | None = None,
        polling_frequency: Duration | None = None,
        error_backoff: Backoff | Duration | None = None,
        lag: Duration | None = None,
        lag_alert: Duration | None = None,
        pause_after_errors: int | None = None,
        time_limit: Duration | None = None,
        concurrency: int | None = None,
    ) -> ProcessOptions:
        """Build from user-friendly values (timedeltas or seconds), validating each."""
        if parallel is not None and (
            isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1
        ):
            raise ConfigurationError(f"parallel must be an int >= 1, got {parallel!r}")
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if pause_after_errors is not None and (
            isinstance(pause_after_errors, bool)
            or not isinstance(pause_after_errors, int)
            or pause_after_errors < 0
        ):
            raise ConfigurationError(f"pause_after_errors must be an int >= 0, got {pause_after_errors!r}")
        backoff = (
            error_backoff
            if isinstance(error_backoff, Backoff) or error_backoff is None
            else Backoff.fixed(_non_negative("error_backoff", seconds(error_backoff)))
        )
        return cls(
            parallel=parallel,
            polling_frequency=None
            if polling_frequency is None
            else _positive("polling_frequency", seconds(polling_frequency)),
            error_backoff=backoff,
            lag=None if lag is None else as_timedelta(_non_negative("lag", seconds(lag))),
            lag_alert=None
            if lag_alert is None
            else as_timedelta(_non_negative("lag_alert", seconds(lag_alert))),
            pause_after_errors=pause_after_errors,
            time_limit=None if time_limit is None else _positive("time_limit", seconds(time_limit)),
            concurrency=concurrency,
        )

    def merged_over(self, base: ProcessOptions) -> ProcessOptions:
        """These options with every unset field taken from `base`."""
        changes = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(base, **changes)

    def resolved(self) -> ProcessOptions:
        """Fill the lag alert from the lag (luno: 30 minutes past the lag) when not given."""
        if self.lag_alert is None and self.lag:
            return replace(self, lag_alert=timedelta(minutes=30) + self.lag)
        return self


BUILT_IN_DEFAULTS = ProcessOptions(
    parallel=1,
    polling_frequency=0.5,
    error_backoff=Backoff.fixed(1.0),
    lag=timedelta(0),
    lag_alert=timedelta(minutes=30),
    pause_after_errors=0,
    time_limit=None,
    concurrency=1,
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A process's effective options, every field set."""

    parallel: int
    polling_frequency: float
    error_backoff: Backoff
    lag: timedelta
    lag_alert: timedelta
    pause_after_errors: int
    time_limit: float | None
    concurrency: int


def resolve(own: ProcessOptions | None, defaults: ProcessOptions | None) -> Resolved:
    """A process's options: its own, then the user's `defaults=`, then the built-ins.

    The lag alert is derived (30 minutes past the lag) before the built-ins fill in, so a lag set
    on a process or in `defaults=` still moves its alert.
    """
    merged = (own or ProcessOptions()).merged_over(defaults or ProcessOptions()).resolved()
    full = merged.merged_over(BUILT_IN_DEFAULTS)  # the built-ins set every field
    return Resolved(*(getattr(full, f.name) for f in fields(Resolved)))


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def _non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, got {value}")
    return value
