"""Server-sent events that follow the hall: the live page and a ticket's phone page.

Streams are served by sse-starlette, with keep-alive pings (a proxy or a phone that sees
nothing for a while closes the connection) and one shutdown event for all of them: when
the dashboard stops, every open stream ends at once, so the server's own shutdown steps
run instead of waiting for browsers to go away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from scheduler.web.live import HallWatch

Snapshot = Callable[[], tuple[dict[str, Any], bool]]  # the data to send, and whether it ends
PING_S = 15  # a comment line this often keeps idle connections open through proxies


class StreamShutdown:
    """One event that ends every open stream; set from any thread when the server stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: anyio.Event | None = None

    def bind(self) -> anyio.Event:
        """Make the event on the server's loop (the app's startup calls this)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = anyio.Event()
            return self._event

    @property
    def event(self) -> anyio.Event:
        """The event streams watch."""
        if self._event is None:
            raise RuntimeError("the dashboard has not started")
        return self._event

    def close(self) -> None:
        """End every stream (thread-safe; nothing to do before the app started)."""
        with self._lock:
            loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may be closing already
                loop.call_soon_threadsafe(event.set)


def hall_stream(
    watch: HallWatch,
    shutdown: StreamShutdown,
    event: str,
    snapshot: Snapshot,
    *,
    refresh_s: float,
    coalesce_s: float = 0.0,
    retry_ms: int = 2000,
) -> EventSourceResponse:
    """``snapshot()`` as event ``event`` after every change of the hall (a burst coalesced
    over ``coalesce_s``) and at least every ``refresh_s``; the stream ends when it says so,
    when the browser goes, or when the dashboard stops.
    """
    loop = asyncio.get_running_loop()
    changed: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

    def offer(version: int) -> None:
        if changed.empty():
            changed.put_nowait(version)

    def on_change(version: int) -> None:
        loop.call_soon_threadsafe(offer, version)  # the bus thread hands over to the loop

    stop = watch.listen(on_change)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            # The browser reconnects by itself after this long.
            yield ServerSentEvent(comment="hello", retry=retry_ms)
            while not shutdown.event.is_set():
                data, final = snapshot()
                yield ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event)
                if final:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.get(), timeout=refresh_s)
                    await asyncio.sleep(coalesce_s)
        finally:
            stop()

    return EventSourceResponse(
        events(),
        ping=PING_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        shutdown_event=shutdown.event,
        shutdown_grace_period=0,
    )
