"""A thread-safe inbox of received messages that can be waited on with a timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Collects items from any thread; ``wait_for`` blocks until one matches or time runs out."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._cond = threading.Condition()

    def put(self, item: T) -> None:
        """Add an item and wake waiters."""
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self) -> list[T]:
        """Everything received so far."""
        with self._cond:
            return list(self._items)

    def wait_count(self, count: int, timeout: float) -> bool:
        """Whether at least ``count`` items arrived within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) >= count, timeout)

    def wait_for(
        self, predicate: Callable[[T], bool], timeout: float, *, after: int = 0
    ) -> T | None:
        """The first item matching ``predicate``, already received or arriving, or None.

        ``after`` skips the items received before that count (only newer ones match).
        """
        with self._cond:
            found: list[T] = []

            def matched() -> bool:
                found[:] = [i for i in self._items[after:] if predicate(i)][:1]
                return bool(found)

            self._cond.wait_for(matched, timeout)
            return found[0] if found else None
