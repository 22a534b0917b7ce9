"""Ids and randomness through one injectable source, so a seeded simulation replays exactly."""

from __future__ import annotations

import random
import uuid
import zlib
from typing import Protocol


class IdSource(Protocol):
    """**Protocol:** where run ids, trace ids and jitter come from."""

    def uuid(self) -> str:
        """A fresh UUIDv4 string."""
        ...

    def random(self) -> float:
        """A float in [0, 1)."""
        ...

    def hex(self, nbytes: int) -> str:
        """`nbytes` random bytes as lower-case hex."""
        ...


class RandomIds:
    """An `IdSource` over `random.Random`; pass a seed for reproducible ids."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def random(self) -> float:
        return self._rng.random()

    def hex(self, nbytes: int) -> str:
        return self._rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()


def stable_shard(key: str, shards: int) -> int:
    """The 0-based shard of `key` among `shards`, the same in every process (unlike `hash`)."""
    if shards <= 1:
        return 0
    return zlib.crc32(key.encode()) % shards
