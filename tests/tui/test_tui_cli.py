"""`wfkit tui`: which store it opens, one-line errors, the palette, the real entry point (tmux, --serve)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _tuiapp import make_app, settle
from typer.testing import CliRunner

from wfkit.cli._app import app as cli
from wfkit.cli.tui import resolve_store
from wfkit.tui._config import absolute_sqlite_url, last_store, remember_store
from wfkit.tui._detail import RunDetailScreen

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG state directory, no $WFKIT_STORE, and an empty working directory."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.delenv("WFKIT_STORE", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home / "wfkit"


def test_store_comes_from_the_argument_then_env_then_memory_then_the_demo_file(state, monkeypatch, tmp_path):
    assert resolve_store("sqlite:///given.db") == "sqlite:///given.db"
    Path("wfkit-demo.db").write_bytes(b"")
    assert resolve_store(None) == "sqlite:///wfkit-demo.db"
    elsewhere = tmp_path / "kept.db"
    elsewhere.write_bytes(b"")
    assert remember_store(f"sqlite:///{elsewhere}")
    assert resolve_store(None) == f"sqlite:///{elsewhere}"
    monkeypatch.setenv("WFKIT_STORE", "postgresql://me@db/wf")
    assert resolve_store(None) == "postgresql://me@db/wf"


def test_remembered_store_is_absolute_and_never_holds_a_password(state):
    assert remember_store("sqlite:///rel.db")
    assert last_store() == f"sqlite:///{Path.cwd() / 'rel.db'}"
    assert absolute_sqlite_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert not remember_store("postgresql://me:secret@db/wf")
    assert "secret" not in (state / "last-store").read_text()


def test_no_store_anywhere_is_one_line_naming_wfkit_demo(state):
    result = runner.invoke(cli, ["tui"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: no store to open: run `wfkit demo` first (it writes ./wfkit-demo.db) or pass a STORE_URL"
    ]


def test_a_missing_sqlite_file_or_bad_url_is_one_line(state):
    missing = runner.invoke(cli, ["tui", "sqlite:///nope.db"])
    assert missing.exit_code == 1
    assert "nope.db does not exist" in missing.output
    assert "wfkit demo" in missing.output
    assert "Traceback" not in missing.output
    bad = runner.invoke(cli, ["tui", "ftp://x"])
    assert bad.exit_code == 2
    assert "unsupported store URL" in bad.output
    target = runner.invoke(cli, ["tui", "sqlite:///nope.db", "--workflow", "nosuchmodule:builder"])
    assert target.exit_code == 2
    assert "no module named 'nosuchmodule'" in target.output


async def test_command_palette_offers_screen_actions_and_goes_to_a_run(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"order-3")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        assert app.screen.run_id == ids["order-3"]
        await pilot.press("ctrl+p", *"light/dark")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "textual-light"


# -- the real entry point ----------------------------------------------------------------------


def _wfkit() -> str:
    exe = shutil.which("wfkit")
    assert exe is not None, "the wfkit console script is installed by `pip install -e .`"
    return exe


def _poll(what: Any, deadline: float = 15.0) -> Any:
    """Call `what` until it returns something true, or fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"gave up waiting after {deadline} s; last: {what()!r}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """A private tmux server (its own socket), killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the smoke test: apt-get install tmux")
    base = ["tmux", "-L", f"wfkit-tui-{uuid.uuid4().hex[:8]}"]
    yield base
    subprocess.run([*base, "kill-server"], capture_output=True, check=False)


def test_wfkit_tui_starts_in_a_real_terminal_and_q_quits(real_store, tmux, tmp_path):
    url, _ = real_store
    done = tmp_path / "exit-code"
    env = f"XDG_STATE_HOME={tmp_path / 'state'} NO_COLOR=1"
    command = f"env {env} {_wfkit()} tui {url}; echo $? > {done}; sleep 30"
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", command], check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout

    text = _poll(lambda: (s := screen()) and "order-1" in s and s)
    assert "all 5" in text
    assert "‖ paused" in text
    assert "Filter" in text
    subprocess.run([*tmux, "send-keys", "q"], check=True)
    _poll(lambda: done.exists() and done.read_text().strip())
    assert done.read_text().strip() == "0"
    assert last_store(tmp_path / "state" / "wfkit") == url  # remembered for next time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_wfkit_tui_serve_answers_http_on_loopback(real_store, tmp_path):
    url, _ = real_store
    port = _free_port()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [_wfkit(), "tui", url, "--serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def get() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    return response.read().decode()  # type: ignore[no-any-return]
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"wfkit tui --serve exited with {proc.returncode}")
                return None

        page = _poll(get)
        assert "<div>wfkit</div>" in page
        assert f"ws://127.0.0.1:{port}/ws" in page
        screen = asyncio.run(_browser_session(port))
        assert b"order-1" in screen
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _browser_session(port: int) -> bytes:
    """What xterm.js would receive: open the app's websocket, say the size, read until runs appear."""
    import aiohttp  # textual-serve's own dependency

    received = b""
    async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        await ws.send_str(json.dumps(["resize", {"width": 80, "height": 24}]))
        async with asyncio.timeout(15):
            while b"order-1" not in received:
                message = await ws.receive()
                if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    break
                data = message.data
                received += data if isinstance(data, bytes) else str(data).encode()
    return received
