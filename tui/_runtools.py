"""What the Runs screen's extra keys need: `:` go-to parsing and lookup, and `e` (the object in a pager).

Kept out of the screen so each piece is a plain function a test can call without a terminal.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported

from wfkit import Order, RecordFilter, RecordNotFound, WfkitError

if TYPE_CHECKING:
    from textual.app import App

    from wfkit.tui._service import RunRow, Service

GOTO_HINT = ":run ID-PREFIX or FOREIGN-ID · :runs WORKFLOW (or all)"


def parse_goto(text: str) -> tuple[str, str]:
    """`:run 01hx`, `run 01hx`, `:runs orders` -> (`run`|`runs`, argument); `WfkitError` otherwise."""
    words = text.strip().lstrip(":").split()
    if not words or words[0].lower() not in ("run", "runs"):
        raise WfkitError(f"go to {text.strip()!r}? use {GOTO_HINT}")
    verb, arg = words[0].lower(), " ".join(words[1:])
    if verb == "run" and not arg:
        raise WfkitError("`:run` needs a run id (a prefix is enough for runs on this page) or a foreign id")
    return verb, arg


def workflow_named(arg: str, known: Iterable[str]) -> str | None:
    """The workflow `:runs ARG` means (None for all); `WfkitError` naming the known ones otherwise."""
    if arg.lower() in ("", "all", "*"):
        return None
    names = list(known)
    for name in names:
        if name.lower() == arg.lower():
            return name
    raise WfkitError(f"no workflow {arg!r}: use one of {', '.join(names) or '(none yet)'}, or all")


async def find_run(service: Service, rows: Iterable[RunRow], text: str) -> str:
    """The run id `text` names: a run-id prefix or a foreign id on this page, else in the store."""
    wanted = text.lower()
    found = list(
        dict.fromkeys(r.run_id for r in rows if r.run_id.lower().startswith(wanted) or r.foreign_id == text)
    )
    if len(found) == 1:
        return found[0]
    if found:
        raise WfkitError(f"{text!r} matches {len(found)} runs on this page: type more of the run id")
    by_foreign = await service.admin.list(
        limit=1, order=Order.DESC, filters=RecordFilter(foreign_ids=(text,))
    )
    if by_foreign:
        return by_foreign[0].run_id
    try:
        return (await service.admin.lookup(text)).run_id
    except RecordNotFound:
        raise WfkitError(
            f"no run {text!r} on this page or in the store: a prefix only matches runs on this page, "
            "so give the full run id or a foreign id"
        ) from None


def pager_command(env: Mapping[str, str]) -> list[str] | None:
    """`$PAGER` as an argument list, else `less` or `more` when installed, else None."""
    try:
        command = shlex.split(env.get("PAGER", ""))
    except ValueError:
        command = []
    if command:
        return command
    for name in ("less", "more"):
        path = shutil.which(name, path=env.get("PATH"))
        if path:
            return [path]
    return None


def show_in_pager(app: App[object], text: str) -> str | None:
    """Suspend the app and page `text` (on the pager's stdin); the reason it could not, or None."""
    command = pager_command(os.environ)
    if command is None:
        return "no pager found: set $PAGER (e.g. `export PAGER=less`) to read the object there"
    try:
        with app.suspend():
            subprocess.run(command, input=text.encode(), check=False)
    except SuspendNotSupported:
        return "this terminal cannot be handed to a pager (a browser or a headless run)"
    except OSError as exc:
        return f"cannot run the pager {command[0]!r}: {exc.strerror or exc}"
    return None
