"""The command palette provider: every action of the current screen, and "go to run …"."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from wfkit.tui._keys import key_label, keys_for

if TYPE_CHECKING:
    from textual.screen import Screen

    from wfkit.tui._keys import Key


class WfkitCommands(Provider):
    """Commands from the key table (what the footer and help show), plus runs on the screen."""

    def _commands(self) -> list[tuple[str, str, Screen[object] | None]]:
        screen = self.screen
        scope = getattr(screen, "SCOPE", "")
        out: list[tuple[str, str, Screen[object] | None]] = []
        seen: set[str] = set()
        for key in (*keys_for(scope), *keys_for("app")):
            if key.action in seen or key.action == "command_palette" or not self._allowed(key):
                continue
            seen.add(key.action)
            target = None if key.scope == "app" else screen
            out.append((f"{key.description} ({key_label(key)})", key.action, target))
        return out

    def _allowed(self, key: Key) -> bool:
        check = getattr(self.screen, "check_action", None)
        return check is None or check(key.action, ()) is not False

    async def _run(self, action: str, target: Screen[object] | None) -> None:
        if target is None:
            await self.app.run_action(action)
        else:
            await target.run_action(action)

    async def discover(self) -> Hits:
        for text, action, target in self._commands():
            yield DiscoveryHit(text, partial(self._run, action, target))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action, target in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, action, target))
        runs = getattr(self.screen, "rows", None)
        if not isinstance(runs, dict):
            return
        opener = getattr(self.screen, "open_run", None)
        for row in list(runs.values())[:500]:
            text = f"go to run {row.foreign_id} {row.run_id[:8]} ({row.workflow})"
            score = matcher.match(text)
            if score > 0 and callable(opener):
                yield Hit(score, matcher.highlight(text), partial(opener, row.run_id))
