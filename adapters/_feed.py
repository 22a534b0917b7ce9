"""In-process change notifications for stores (the optional `ChangeFeed` port), shared by adapters."""

from __future__ import annotations

from collections.abc import Callable


class Subscribers:
    """Callbacks per workflow, called synchronously after each write of that workflow."""

    def __init__(self) -> None:
        self._by_workflow: dict[str, list[Callable[[], None]]] = {}

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every write for `workflow_name`; returns the unsubscribe function."""
        callbacks = self._by_workflow.setdefault(workflow_name, [])
        callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def notify_all(self) -> None:
        """Call every callback (changes may have been missed, e.g. while a LISTEN was down)."""
        for callbacks in tuple(self._by_workflow.values()):
            for callback in tuple(callbacks):
                callback()

    def notify(self, workflow_name: str) -> None:
        callbacks = self._by_workflow.get(workflow_name)
        if callbacks:
            for callback in tuple(callbacks):
                callback()
