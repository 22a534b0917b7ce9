"""`FaultPlan`: which faults a simulation injects, how often, and when."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from wfkit import ConfigurationError

_RATES = {
    "store_fail": "a store write fails before it commits",
    "store_ambiguous": "a store write commits, then reports an error",
    "stale_read": "a lookup returns the run's previous version",
    "duplicate": "an event is delivered twice",
    "delay": "an event is delivered late (reordering it against others)",
    "drop": "a received event is lost before its ack (and redelivered)",
    "disconnect": "a receiver loses its connection",
    "timeout_fail": "a timeout store call fails",
    "slow_step": "a step function takes extra time",
    "role_loss": "per simulated second: a held role is taken away mid-work",
    "crash": "per simulated second: a node crashes at an arbitrary await, then restarts",
    "clock_jump": "per simulated second: business time jumps forward",
}


@dataclass(frozen=True)
class FaultPlan:
    """Per-fault rates (probability per port call, or per simulated second for node-level faults)
    and an optional window `(start, end)` in simulated seconds outside which nothing is injected."""

    store_fail: float = 0.0
    store_ambiguous: float = 0.0
    stale_read: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    drop: float = 0.0
    disconnect: float = 0.0
    timeout_fail: float = 0.0
    slow_step: float = 0.0
    role_loss: float = 0.0
    crash: float = 0.0
    clock_jump: float = 0.0
    window: tuple[float, float] | None = None
    max_delay: float = 5.0
    max_jump: float = 120.0
    downtime: float = 5.0
    max_slowness: float = 2.0

    def __post_init__(self) -> None:
        for name in _RATES:
            rate = getattr(self, name)
            if not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
                raise ConfigurationError(f"fault rate {name}={rate!r} must be a number between 0 and 1")
        if self.window is not None and not (0 <= self.window[0] <= self.window[1]):
            raise ConfigurationError(
                f"fault window {self.window!r} must be (start, end) with 0 <= start <= end"
            )

    @classmethod
    def none(cls) -> FaultPlan:
        """No faults at all."""
        return cls()

    @classmethod
    def default(cls) -> FaultPlan:
        """Every fault at a modest rate, for the first two simulated minutes."""
        return cls(
            store_fail=0.02,
            store_ambiguous=0.02,
            stale_read=0.02,
            duplicate=0.05,
            delay=0.05,
            drop=0.02,
            disconnect=0.01,
            timeout_fail=0.02,
            slow_step=0.05,
            role_loss=0.05,
            crash=0.02,
            clock_jump=0.01,
            window=(0.0, 120.0),
        )

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Read `"duplicate=0.1,crash=0.01,window=0..60"`; `default` and `none` name the presets.

        Names not given are 0 (or their default for the tuning knobs); a leading `default,` starts
        from the default plan instead.
        """
        base = cls()
        changes: dict[str, object] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if part in ("default", "none"):
                base = cls.default() if part == "default" else cls.none()
                continue
            name, sep, value = part.partition("=")
            name = name.strip().replace("-", "_")
            known = {f.name for f in fields(cls)}
            if not sep or name not in known:
                raise ConfigurationError(
                    f"unknown fault {part!r} in {text!r}: use name=rate with names from "
                    + ", ".join(sorted(known))
                )
            try:
                if name == "window":
                    start, _, end = value.partition("..")
                    changes[name] = (float(start), float(end))
                else:
                    changes[name] = float(value)
            except ValueError:
                raise ConfigurationError(
                    f"bad value in {part!r}: expected a number (window: start..end)"
                ) from None
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """The plan in `parse` syntax: only what differs from no faults."""
        none = FaultPlan()
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(none, f.name):
                out.append(
                    f"{f.name}={value[0]:g}..{value[1]:g}" if f.name == "window" else f"{f.name}={value:g}"
                )
        return ",".join(out) or "none"

    def active(self, now: float) -> bool:
        """Whether faults may be injected at simulated time `now`."""
        return self.window is None or self.window[0] <= now < self.window[1]

    @property
    def end(self) -> float | None:
        """When faults stop for good (None: never, when there is no window and a rate is set)."""
        if not any(getattr(self, name) for name in _RATES):
            return 0.0
        return None if self.window is None else self.window[1]

    def rate(self, name: str) -> float:
        return float(getattr(self, name))


FAULT_NAMES: tuple[str, ...] = tuple(_RATES)
FAULT_DESCRIPTIONS: dict[str, str] = dict(_RATES)
