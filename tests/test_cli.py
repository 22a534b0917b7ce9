"""The `wfkit` command line: help, demo, graph, one-line errors, and the runnable orders example."""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wfkit.cli._app import app
from wfkit.cli.demo import make_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "orders.py"
ORDERS = "wfkit.cli._orders:builder"
ENV = {"COLUMNS": "100", "FORCE_COLOR": None, "NO_COLOR": "1"}
FATES = {"paid": "FULFILLED", "unpaid": "EXPIRED", "invalid": "REJECTED"}
EDGES = [
    "[*] --> CREATED",
    "CREATED --> VALIDATED",
    "CREATED --> REJECTED",
    "VALIDATED --> PAYMENT_PENDING",
    "PAYMENT_PENDING --> PAID",
    "PAYMENT_PENDING --> EXPIRED",
    "PAID --> FULFILLED",
    "FULFILLED --> [*]",
    "EXPIRED --> [*]",
    "REJECTED --> [*]",
]

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=ENV, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo what loading `module:attr` does: the cwd on `sys.path`, user modules in `sys.modules`."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if file.startswith(str(tmp_path)) or file == str(EXAMPLE):
            del sys.modules[name]


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- wfkit, --help, --version -------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "demo" in out
    assert "graph" in out


def test_no_arguments_prints_help() -> None:
    code, out, _ = invoke()
    assert code == 0
    assert "Usage" in out


def test_version() -> None:
    import wfkit

    code, out, _ = invoke("--version")
    assert (code, out.strip()) == (0, f"wfkit {wfkit.__version__}")


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from wfkit.cli import main\n"
        "sys.argv = ['wfkit', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('graphviz', 'textual', 'rich.live', 'rich.progress', 'wfkit.adapters', 'wfkit.testing')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_one_line_and_exit_2() -> None:
    code, _, err = invoke("nope")
    assert code == 2
    assert_one_line_error(err, "nope")


# -- demo ----------------------------------------------------------------------------------------


def test_demo_runs_and_summarises() -> None:
    code, out, err = invoke("demo", "--runs", "5", "--seed", "3", "--store", "memory://")
    assert code == 0, err
    assert re.search(r"total runs\s*│\s*5\s*│", out), out
    assert re.search(r"on_complete hooks\s*│\s*5\s*│", out), out
    assert re.search(r"transitions/s\s*│\s*\d+\.\d\s*│", out), out
    expected = collections.Counter(FATES[p.fate] for p in make_plan(5, 3))
    for status, count in expected.items():
        assert re.search(rf"{status}\s*│\s*{count}\s*│", out), (status, out)


def test_demo_keeps_its_runs_in_a_sqlite_file_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, err = invoke("demo", "--runs", "3", "--seed", "2")
        assert code == 0, err
        assert "wfkit-demo.db" in out
        assert re.search(r"total runs\s*│\s*3\s*│", out), out  # this demo's runs only

    async def count() -> int:
        from wfkit.adapters import connect

        async with connect("sqlite:///wfkit-demo.db") as backend:
            return await backend.store.count("orders")

    assert asyncio.run(count()) == 6  # the second demo saw the file the first one left


def test_demo_with_a_bad_store_url_says_so() -> None:
    code, out, err = invoke("demo", "--store", "nosuch://x")
    assert code in (1, 2), (out, err)
    assert_one_line_error(err, "nosuch://x")


def test_demo_plan_is_seeded() -> None:
    assert make_plan(50, 7) == make_plan(50, 7)
    assert make_plan(50, 7) != make_plan(50, 8)
    assert {p.fate for p in make_plan(50, 7)} == {"paid", "unpaid", "invalid"}


def test_demo_rejects_zero_runs() -> None:
    code, out, err = invoke("demo", "--runs", "0")
    assert code == 2, (out, err)
    assert_one_line_error(err, "--runs")


# -- graph ---------------------------------------------------------------------------------------


def test_graph_mermaid_of_the_orders_builder() -> None:
    code, out, err = invoke("graph", ORDERS)
    assert code == 0, err
    assert "stateDiagram-v2" in out
    for edge in EDGES:
        assert edge in out


def test_graph_dot() -> None:
    code, out, err = invoke("graph", ORDERS, "--format", "dot")
    assert code == 0, err
    assert out.startswith('digraph "orders" {')
    assert '"CREATED" -> "VALIDATED";' in out
    assert '"PAYMENT_PENDING" -> "EXPIRED" [label="timeout", style=dashed];' in out


def test_graph_accepts_a_workflow_and_a_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shop.py").write_text(
        "from wfkit.adapters import memory\n"
        "from wfkit.cli._orders import builder\n"
        "wf = memory.backend().build(builder())\n"
        "def make():\n    return wf\n"
    )
    mermaids = set()
    for target in ("shop:wf", "shop:make", f"{tmp_path / 'shop.py'}:wf", ORDERS):
        code, out, err = invoke("graph", target)
        assert code == 0, (target, err)
        mermaids.add(out)
    assert len(mermaids) == 1


def test_graph_finds_modules_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLE, tmp_path / "shop.py")
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("graph", "shop:builder")
    assert code == 0, err
    for edge in EDGES:
        assert edge in out


def test_example_draws_the_same_graph_as_the_demo() -> None:
    _, demo_graph, _ = invoke("graph", ORDERS)
    code, example_graph, err = invoke("graph", f"{EXAMPLE}:builder")
    assert code == 0, err
    assert example_graph == demo_graph


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_graph_renders_images(tmp_path: Path, suffix: str, magic: bytes) -> None:
    # Needs Graphviz's `dot` (apt-get install graphviz, done by .ci/run) and the graphviz package.
    out_file = tmp_path / f"orders{suffix}"
    code, _, err = invoke("graph", ORDERS, "--output", str(out_file))  # format from the suffix
    assert code == 0, err
    assert magic in out_file.read_bytes()[:400]


def test_graph_writes_text_formats_to_a_file(tmp_path: Path) -> None:
    out_file = tmp_path / "orders.txt"
    code, _, err = invoke("graph", ORDERS, "-f", "dot", "-o", str(out_file))
    assert code == 0, err
    assert out_file.read_text().startswith('digraph "orders"')


def test_graph_png_needs_an_output_file() -> None:
    code, _, err = invoke("graph", ORDERS, "--format", "png")
    assert code == 2
    assert_one_line_error(err, "--output")


def test_graph_without_dot_binary_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    code, _, err = invoke("graph", ORDERS, "--format", "svg")
    assert code == 1
    assert_one_line_error(err, "error:", "apt-get install graphviz", "pip install 'wfkit[graphviz]'")


def test_graph_without_graphviz_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    code, _, err = invoke("graph", ORDERS, "--format", "svg")
    assert code == 1
    assert_one_line_error(err, "error:", "pip install 'wfkit[graphviz]'")


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("orders", "module:attr"),
        ("no_such_module_xyz:builder", "no module named 'no_such_module_xyz'"),
        ("wfkit.cli._orders:nope", "no attribute 'nope'"),
        ("wfkit.cli._orders:Status", "not a wfkit.Builder"),
        ("wfkit.cli._orders:validate", "callable without arguments"),
        ("missing/file.py:builder", "no such file"),
    ],
)
def test_graph_bad_target_is_one_line_and_exit_2(target: str, needle: str) -> None:
    code, _, err = invoke("graph", target)
    assert code == 2
    assert_one_line_error(err, needle)


def test_graph_broken_module_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import wfkit\nraise RuntimeError('boom')\n")
    code, _, err = invoke("graph", f"{broken}:builder")
    assert code == 2
    assert_one_line_error(err, "RuntimeError: boom")


def test_wfkit_errors_are_one_red_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import wfkit\ndef make():\n    return wfkit.Builder('x', dict, int)\n")
    code, _, err = invoke("graph", f"{bad}:make")
    assert code == 1
    assert_one_line_error(err, "error:", "IntEnum")


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """Through `main()` in a real process: exit 2 and one line on stderr."""
    done = subprocess.run(
        [sys.executable, "-c", "from wfkit.cli import main; main()", "graph", "nocolon"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "module:attr")


# -- the runnable example ------------------------------------------------------------------------


def test_orders_example_runs_as_a_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for order, status in [("order-1", "FULFILLED"), ("order-2", "EXPIRED"), ("order-3", "REJECTED")]:
        assert any(line.startswith(f"{order}: {status} ") for line in lines), done.stdout
        assert f"(on_complete: {order} finished as {status})" in done.stdout
    assert "TRK-" in done.stdout


# -- the README's code ---------------------------------------------------------------------------


def _readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_example_and_test_run(tmp_path: Path) -> None:
    example, test = _readme_blocks()[:2]
    (tmp_path / "readme_example.py").write_text(example)
    done = subprocess.run(
        [sys.executable, "readme_example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, "PAID COMPLETED\n"), done.stderr

    module = example.replace("asyncio.run(main())", "if __name__ == '__main__':\n    asyncio.run(main())")
    (tmp_path / "shop.py").write_text(module)
    (tmp_path / "test_readme.py").write_text("from shop import Order, Status, b\n\n" + test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
