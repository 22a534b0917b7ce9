"""A full disk is a `WfkitError` that says where to free space, and nothing is lost once there is room.

Both really run out of space: SQLite keeps its file on a 2 MB tmpfs filled by a ballast file,
and a private PostgreSQL server (`_pgcluster.py`) puts wfkit's tables in a tablespace on a 1 MB
tmpfs. Mounting needs root, as the private server does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from _pgcluster import OS_USER, PrivateCluster, private_cluster
from crash.workflow import NAME, builder
from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import connect
from wfkit.adapters._sqlerrors import DiskFull
from wfkit.testing.contracts._helpers import make_record

MANY = 100_000


async def _until_all_completed(store: wfkit.RecordStore, runs: int, timeout: float = 30) -> None:
    completed = wfkit.RecordFilter(run_states=(wfkit.RunState.COMPLETED,))
    deadline = time.monotonic() + timeout
    while await store.count(NAME, filters=completed) < runs:
        assert time.monotonic() < deadline, f"runs did not all complete within {timeout} s"
        await asyncio.sleep(0.05)


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A 2 MB tmpfs: a disk that really fills up."""
    path = Path(tempfile.mkdtemp(prefix="wfkit-tiny-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False).returncode:
            subprocess.run(["umount", "--lazy", str(path)], check=True)
        path.rmdir()


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file taking all but `leave` bytes of `disk`'s free space."""
    stats = os.statvfs(disk)
    ballast = disk / "ballast"
    ballast.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))
    return ballast


async def test_a_full_disk_under_sqlite_is_a_wfkit_error_and_runs_go_on_once_there_is_room(
    tiny_disk: Path,
) -> None:
    async with connect(f"sqlite:///{tiny_disk / 'wf.db'}") as backend:
        wf = backend.build(builder(), metrics=CollectorRegistry())
        async with wf:
            ballast = _fill(tiny_disk, leave=128 * 1024)
            triggered: list[str] = []

            async def trigger_until_full() -> None:
                for i in range(MANY):
                    triggered.append(await wf.trigger(f"job-{i}"))

            with pytest.raises(DiskFull) as err:
                await trigger_until_full()
            assert isinstance(err.value, wfkit.WfkitError)
            message = str(err.value)
            assert f"free disk space at {str(tiny_disk)!r}" in message, message
            assert "database or disk is full" in message
            assert "\n" not in message  # one line

            ballast.unlink()  # space is freed: the refused trigger can be made again, nothing was lost
            triggered.append(await wf.trigger(f"job-{len(triggered)}"))
            await _until_all_completed(backend.store, len(triggered))
            assert await backend.store.count(NAME) == len(triggered)


@pytest.fixture
def full_disk_cluster() -> Iterator[tuple[PrivateCluster, Path]]:
    """A private server and a 1 MB tmpfs owned by its OS user, for a tablespace that fills up."""
    with private_cluster() as cluster:
        tiny = Path(tempfile.mkdtemp(prefix="wfkit-tiny-", dir=cluster.root))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(tiny)], check=True)
        try:
            subprocess.run(["chown", f"{OS_USER}:{OS_USER}", str(tiny)], check=True)
            yield cluster, tiny
        finally:
            cluster.remove()  # the server lets go of the tablespace's files before the unmount
            if subprocess.run(["umount", str(tiny)], check=False).returncode:
                subprocess.run(["umount", "--lazy", str(tiny)], check=True)


async def test_a_full_disk_on_postgresql_is_a_wfkit_error_naming_the_fix(
    full_disk_cluster: tuple[PrivateCluster, Path],
) -> None:
    cluster, tiny = full_disk_cluster
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(f"CREATE TABLESPACE tiny LOCATION '{tiny}'")
    finally:
        await conn.close()
    url = cluster.url() + "?default_tablespace=tiny"  # every wfkit table and index on the tmpfs
    async with connect(url) as backend:
        stored = 0

        async def store_until_full() -> None:
            nonlocal stored
            for i in range(MANY):
                await backend.store.store(make_record(foreign_id=f"user-{i}", obj=os.urandom(2000)))
                stored += 1

        with pytest.raises(DiskFull) as err:
            await store_until_full()
        assert isinstance(err.value, wfkit.WfkitError)
        message = str(err.value)
        assert "No space left on device" in message, message
        assert "free disk space on the server" in message
        assert "\n" not in message  # one line
        assert f"127.0.0.1:{cluster.port}" in message
        assert stored > 0
        assert await backend.store.count() == stored  # the refused write left nothing behind
