"""What the store-facing commands share: the `--store` option, opening a backend, JSON output, records.

`runs`, `pause`…`delete`, `trigger`, `callback`, `db` and `worker` all name a store by URL
(default: the demo's SQLite file, or `$WFKIT_STORE`), print one JSON document with `--json`, and
show records the same way. Only typer and the standard library are imported at module level.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import usage_error

if TYPE_CHECKING:
    from wfkit import Builder, Record, WorkflowInfo
    from wfkit.adapters import Backend

DEFAULT_STORE = "sqlite:///wfkit-demo.db"
"""The store every command opens by default: the file `wfkit demo` writes (`wfkit.cli.demo.DEMO_STORE`)."""
STORE_ENV = "WFKIT_STORE"

Store = Annotated[
    str,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        metavar="URL",
        help="The store: sqlite:///file.db, postgresql://user@host/db, mysql://user@host/db.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


def connect_store(url: str, *, must_exist: bool = True, param: str = "--store", **options: Any) -> Backend:
    """A `Backend` for `--store url`; a bad URL is misuse (exit 2).

    `must_exist`: a SQLite file that is not there is an error naming the fix rather than a new,
    empty file (reading runs should never create a database). `memory://` is refused: it lives
    inside one process, so no other command could ever see its runs.
    """
    from wfkit import ConfigurationError, WfkitError
    from wfkit.adapters import connect, mask_url

    if url.lower().startswith("memory:"):
        raise usage_error(
            "memory:// lives inside one process, so nothing else can see its runs: "
            "use a shared store such as sqlite:///wfkit.db",
            param,
        )
    try:
        backend = connect(url, **options)
    except ConfigurationError as exc:
        raise usage_error(exc, param) from None
    if must_exist:
        path = sqlite_path(url)
        if path is not None and not path.is_file():
            hint = "run `wfkit demo` first or " if url == DEFAULT_STORE else ""
            raise WfkitError(f"no store at {mask_url(url)} ({path} does not exist): {hint}pass --store URL")
    return backend


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:` URL (absolute), None for other schemes."""
    if not url.lower().startswith("sqlite:"):
        return None
    from wfkit.adapters.sqlite._db import path_from_url

    path = path_from_url(url)
    return path if path.is_absolute() else Path.cwd() / path


@asynccontextmanager
async def open_store(backend: Backend) -> AsyncIterator[Backend]:
    """The backend, open (migrated) for the duration; an unknown run id names the fix."""
    from wfkit import RecordNotFound, WfkitError

    try:
        async with backend:
            yield backend
    except RecordNotFound as exc:
        if exc.run_id is None:
            raise
        raise WfkitError(
            f"no run with id {exc.run_id!r} in {backend.url}: `wfkit runs list` shows the runs there"
        ) from None


def load_builder(target: str, param: str = "MODULE:ATTR") -> Builder[Any, Any]:
    """The `wfkit.Builder` that `target` names (or a 0-argument function returns); misuse otherwise."""
    from wfkit import Builder
    from wfkit.cli._load import TargetError, load_workflow

    try:
        obj = load_workflow(target)
    except TargetError as exc:
        raise usage_error(exc, param) from None
    if not isinstance(obj, Builder):
        raise usage_error(
            f"{target} is a built Workflow, bound to its own adapters: name the wfkit.Builder "
            "(or a function returning one) so the command can build it on --store",
            param,
        )
    return obj


def parse_json(text: str, param: str) -> Any:
    """`text` as JSON, or a one-line misuse error (exit 2) saying how to quote it."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise usage_error(
            f"not valid JSON ({exc}): quote the whole value for the shell, e.g. {param} "
            """'{"amount": 12.5}'""",
            param,
        ) from None


def print_json(document: Any) -> None:
    """One JSON document on stdout (indented, so it reads well and parses with any tool)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def decode_object(data: bytes) -> tuple[Any, bool]:
    """The record's object as JSON if it is JSON (`(value, True)`), else base64 text (`(text, False)`)."""
    try:
        return json.loads(data), True
    except ValueError:
        return base64.b64encode(data).decode(), False


def record_dict(record: Record, info: WorkflowInfo | None = None) -> dict[str, Any]:
    """A record as plain JSON data: the object decoded when it is JSON (else `object_base64`)."""
    obj, is_json = decode_object(record.object)
    out: dict[str, Any] = {
        "run_id": record.run_id,
        "workflow_name": record.workflow_name,
        "foreign_id": record.foreign_id,
        "run_state": record.run_state.name,
        "status": record.status,
        "status_name": status_name(record, info),
        "version": record.version,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "run_state_reason": record.meta.run_state_reason,
        "trace_origin": record.meta.trace_origin,
        "traceparent": record.meta.traceparent,
    }
    if is_json:
        out["object"] = obj
    else:
        out["object"] = None
        out["object_base64"] = obj
    return out


def status_name(record: Record, info: WorkflowInfo | None) -> str:
    """The status's name from the workflow's catalogue, else the one stored with the record."""
    if info is not None and record.status in info.statuses:
        return info.statuses[record.status]
    return record.meta.status_description or str(record.status)


def by_name(infos: Sequence[WorkflowInfo]) -> dict[str, WorkflowInfo]:
    return {info.name: info for info in infos}
