"""Export the README's screenshots of `wfkit tui` as SVG, drawn by the app itself.

    python scripts/screenshots.py [--out docs/screenshots] [--size 100x30]

The app runs headlessly over the snapshot tests' fixed store (six orders of examples/orders.py,
times fixed) with a frozen clock and polling off, so a re-run gives the same files unless the app
changed. Each screenshot is reached with the keys a user would press.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tui"))  # the snapshot tests' seeding and app helpers

from _tuiapp import make_app, settle  # noqa: E402
from _tuiseed import seed_fixed  # noqa: E402

SHOTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("runs", "runs table", ()),
    ("detail", "run detail", ("j", "j", "enter")),
    ("graph", "state graph", ("G", "k", "k", "f")),
    ("replay", "replay", ("G", "enter", "v", *"]]]]]", "d")),
]
"""(file name, title, keys pressed after the first load)."""


async def shoot(url: str, keys: tuple[str, ...], size: tuple[int, int], title: str) -> str:
    app = make_app(url)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        return app.export_screenshot(title=f"wfkit tui · {title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="output directory")
    parser.add_argument("--size", default="100x30", help="terminal size, COLUMNSxROWS (default 100x30)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "orders.db"
        seed_fixed(db)
        for name, title, keys in SHOTS:
            svg: Any = asyncio.run(shoot(f"sqlite:///{db}", keys, (width, height), title))
            target = args.out / f"{name}.svg"
            target.write_text(svg, encoding="utf-8")
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
