"""The `wfkit` command line (Typer): `main()` is the console script.

Commands import what they need when they run, so `wfkit --help` loads neither the adapters nor
Rich's live widgets nor graphviz.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the `wfkit` command line."""
    from wfkit.cli._app import app

    app()
