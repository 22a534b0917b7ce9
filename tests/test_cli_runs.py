"""`wfkit runs list|show|history` on a SQLite store the orders example really ran on; store options,
exit codes and shell completion."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli_store import FINAL, assert_one_line_error, invoke, invoke_json, isolate_imports, seed

from wfkit.cli._common import DEFAULT_STORE
from wfkit.cli.demo import DEMO_STORE


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate_imports(monkeypatch)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Read-only for these tests: seeded once."""
    return seed(tmp_path_factory.mktemp("runs") / "orders.db")


def run_ids(store: str) -> dict[str, str]:
    return {r["foreign_id"]: r["run_id"] for r in invoke_json("runs", "list", "--store", store)}


# -- list ----------------------------------------------------------------------------------------


def test_list_shows_every_run_newest_first_in_a_table(store: str) -> None:
    code, out, err = invoke("runs", "list", "--store", store)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if re.match(r"\s*[0-9a-f]{8}-", line)]
    assert [(r[2], r[3], r[4]) for r in rows] == [
        ("o3", "REJECTED", "COMPLETED"),
        ("o2", "EXPIRED", "COMPLETED"),
        ("o1", "FULFILLED", "COMPLETED"),
    ]
    assert "runs 1-3 of 3, newest first" in out


def test_list_json_is_one_array_with_objects_decoded(store: str) -> None:
    runs = invoke_json("runs", "list", "--store", store, "--oldest-first")
    assert [(r["foreign_id"], r["status_name"], r["run_state"]) for r in runs] == [
        (fid, status, "COMPLETED") for fid, status in FINAL.items()
    ]
    paid = runs[0]
    assert paid["object"]["items"] == ["book"]
    assert paid["object"]["tracking"] == f"TRK-{paid['run_id'][:8]}"
    assert paid["status"] == 5
    assert paid["version"] == 5
    assert paid["workflow_name"] == "orders"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--status", "expired"], ["o2"]),
        (["--status", "5"], ["o1"]),
        (["--status", "REJECTED", "--status", "FULFILLED"], ["o3", "o1"]),
        (["--foreign-id", "o3", "-w", "orders"], ["o3"]),
        (["--state", "completed"], ["o3", "o2", "o1"]),
        (["--state", "RUNNING", "--state", "paused"], []),
        (["--limit", "1", "--offset", "1"], ["o2"]),
        (["--limit", "2", "--oldest-first"], ["o1", "o2"]),
        (["--sort", "status"], ["o3", "o2", "o1"]),  # REJECTED 7, EXPIRED 6, FULFILLED 5
        (["--sort", "status", "--oldest-first"], ["o1", "o2", "o3"]),
        (["--sort", "version"], ["o1", "o2", "o3"]),  # 5, 4 and 2 versions
        (["--sort", "foreign-id", "--ascending", "--limit", "2", "--offset", "1"], ["o2", "o3"]),
        (["--sort", "FOREIGN_ID", "--state", "completed"], ["o3", "o2", "o1"]),
        (["--sort", "created", "--ascending"], ["o1", "o2", "o3"]),
    ],
)
def test_list_filters_and_pages(store: str, filters: list[str], expected: list[str]) -> None:
    runs = invoke_json("runs", "list", "--store", store, *filters)
    assert [r["foreign_id"] for r in runs] == expected


def test_list_says_where_the_next_page_starts(store: str) -> None:
    code, out, _ = invoke("runs", "list", "--store", store, "--limit", "2")
    assert code == 0
    assert "runs 1-2 of 3, newest first; --offset 2 for more" in out
    code, out, _ = invoke("runs", "list", "--store", store, "--state", "paused")
    assert (code, out.strip()) == (0, "no runs")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--status", "SHIPPED"], ["--status", "SHIPPED", "EXPIRED"]),
        (["--state", "done"], ["--state", "done", "COMPLETED"]),
        (["--limit", "0"], ["--limit"]),
        (
            ["--sort", "age"],
            ["--sort", "'age' is not a sort key", "created, updated, status, foreign-id, version"],
        ),
    ],
)
def test_list_misuse_is_one_line_and_exit_2(store: str, args: list[str], needles: list[str]) -> None:
    code, out, err = invoke("runs", "list", "--store", store, *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err, *needles)


def test_list_sorted_by_updated_shows_the_latest_write_first_and_says_so(store: str) -> None:
    runs = invoke_json("runs", "list", "--store", store, "--sort", "updated")
    stamps = [r["updated_at"] for r in runs]
    assert stamps == sorted(stamps, reverse=True)
    assert runs[0]["foreign_id"] == "o2"  # it waited out its payment window: the last to finish
    code, out, err = invoke("runs", "list", "--store", store, "--sort", "updated", "--limit", "2")
    assert code == 0, err
    assert "runs 1-2 of 3, by updated, descending; --offset 2 for more" in out
    code, out, err = invoke("runs", "list", "--store", store, "--sort", "foreign-id", "--ascending")
    assert "runs 1-3 of 3, by foreign-id, ascending" in out


def test_an_unknown_workflow_is_exit_1_naming_the_known_ones(store: str) -> None:
    code, _, err = invoke("runs", "list", "--store", store, "--workflow", "invoices")
    assert code == 1
    assert_one_line_error(err, "invoices", "orders")


# -- show and history ----------------------------------------------------------------------------


def test_show_prints_fields_and_object(store: str) -> None:
    run_id = run_ids(store)["o1"]
    code, out, err = invoke("runs", "show", run_id, "--store", store)
    assert code == 0, err
    assert run_id in out
    assert re.search(r"status\s+FULFILLED \(5\)", out), out
    assert re.search(r"run state\s+COMPLETED", out), out
    assert '"tracking": "TRK-' in out
    data = invoke_json("runs", "show", run_id, "--store", store)
    assert (data["run_id"], data["foreign_id"], data["status_name"]) == (run_id, "o1", "FULFILLED")
    assert data["object"]["total"] == 12.5


def test_history_lists_every_version_in_order(store: str) -> None:
    ids = run_ids(store)
    versions = invoke_json("runs", "history", ids["o1"], "--store", store)
    assert [(v["version"], v["status_name"]) for v in versions] == [
        (1, "CREATED"),
        (2, "VALIDATED"),
        (3, "PAYMENT_PENDING"),
        (4, "PAID"),
        (5, "FULFILLED"),
    ]
    assert versions[0]["object"]["tracking"] == ""  # each version's own object
    code, out, err = invoke("runs", "history", ids["o2"], "--store", store)
    assert code == 0, err
    assert re.findall(r"(CREATED|VALIDATED|PAYMENT_PENDING|EXPIRED) \(\d\)", out) == [
        "CREATED",
        "VALIDATED",
        "PAYMENT_PENDING",
        "EXPIRED",
    ]


@pytest.mark.parametrize("command", ["show", "history"])
def test_an_unknown_run_id_is_exit_1_with_the_fix(store: str, command: str) -> None:
    code, out, err = invoke("runs", command, "no-such-run", "--store", store)
    assert (code, out) == (1, "")
    assert_one_line_error(err, "no-such-run", "wfkit runs list")


# -- the store option ----------------------------------------------------------------------------


def test_the_default_store_is_the_demo_file_and_its_absence_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_STORE == DEMO_STORE
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("runs", "list")
    assert code == 1
    assert_one_line_error(err, "wfkit-demo.db", "wfkit demo")
    assert not (tmp_path / "wfkit-demo.db").exists()  # reading never creates a database


def test_wfkit_store_names_the_store(store: str) -> None:
    code, out, err = invoke("runs", "list", "--json", env={"WFKIT_STORE": store})
    assert code == 0, err
    assert len(re.findall(r'"run_id"', out)) == 3
    _, help_text, _ = invoke("runs", "list", "--help")
    assert "WFKIT_STORE" in help_text


@pytest.mark.parametrize(
    ("url", "needle"), [("memory://", "memory://"), ("redis2://x", "unsupported store URL")]
)
def test_a_store_no_command_can_use_is_exit_2(url: str, needle: str) -> None:
    code, _, err = invoke("runs", "list", "--store", url)
    assert code == 2
    assert_one_line_error(err, "--store", needle)


# -- help and completion -------------------------------------------------------------------------


def test_help_lists_the_run_commands() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in (
        "runs",
        "pause",
        "resume",
        "retry",
        "cancel",
        "delete",
        "trigger",
        "callback",
        "worker",
        "db",
    ):
        assert re.search(rf"│ {command}\s", out), command
    assert "--install-completion" in out


def test_shell_completion_completes_commands_and_options() -> None:
    def complete(words: str) -> list[str]:
        cword = str(len(words.split()) - 1)
        env = {"_WFKIT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        code, out, err = invoke(env=env)
        assert code == 0, err
        return out.split()

    assert complete("wfkit ru") == ["runs"]
    assert complete("wfkit runs list --st") == ["--store", "--status", "--state"]
    assert complete("wfkit d") == ["demo", "delete", "db"]
