"""wfkit.tui: the Textual terminal UI (`wfkit tui`), arriving with issue 5."""
