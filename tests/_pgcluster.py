"""A private PostgreSQL server for tests that stop it or fill its disk (never the shared one on 5432).

`PrivateCluster` runs `initdb` into a fresh directory as the `postgres` OS user (PostgreSQL refuses
to run as root), then `pg_ctl start`/`stop` on a free loopback port with its socket in that
directory. `private_cluster()` is the context manager a fixture wraps: the server is stopped
(immediately) and its directory removed whatever the test did.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

OS_USER = "postgres"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"no PostgreSQL binaries ({name}) under /usr/lib/postgresql: apt-get install postgresql")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """One PostgreSQL server of the test's own, on 127.0.0.1:`port`, trust auth for `postgres`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wfkit-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        user = pwd.getpwnam(OS_USER)
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self._as_postgres(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("start", "-w", "-t", "30", "-o", options, "-l", str(self.root / "server.log"))

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`: fast disconnects every client and shuts down cleanly."""
        self._pg_ctl("stop", "-w", "-t", "30", "-m", mode)

    def remove(self) -> None:
        """Stop the server (SIGQUIT to the postmaster if pg_ctl cannot) and delete its files."""
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), *args)

    def _as_postgres(self, *command: str) -> None:
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # sbin is not on every user's PATH
        argv = [runuser, "-u", OS_USER, "--", *command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started private server, stopped and deleted afterwards."""
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
