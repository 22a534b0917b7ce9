"""Fixtures of the TUI tests: seeded SQLite stores (copied per test) and apps built on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _tuiseed import seed_fixed, seed_real


@pytest.fixture(scope="session")
def _real_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("real") / "orders.db"
    return path, seed_real(path)


@pytest.fixture(scope="session")
def _fixed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixed") / "orders.db"
    seed_fixed(path)
    return path


def _copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


@pytest.fixture
def real_store(tmp_path: Path, _real_template: tuple[Path, dict[str, str]]) -> tuple[str, dict[str, str]]:
    """A SQLite URL of the real orders runs (a private copy) and their run ids by foreign id."""
    path, ids = _real_template
    return f"sqlite:///{_copy(path, tmp_path)}", ids


@pytest.fixture
def fixed_store(tmp_path: Path, _fixed_template: Path) -> str:
    """A SQLite URL of the fixed records (a private copy)."""
    return f"sqlite:///{_copy(_fixed_template, tmp_path)}"
