"""Server-sent events that follow the hall: the live page and a ticket's phone page."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from scheduler.web.live import HallWatch

Snapshot = Callable[[], tuple[dict[str, Any], bool]]  # the data to send, and whether it ends


def hall_stream(
    request: Request,
    watch: HallWatch,
    event: str,
    snapshot: Snapshot,
    *,
    refresh_s: float,
    coalesce_s: float = 0.0,
    retry_ms: int = 2000,
) -> StreamingResponse:
    """``snapshot()`` as event ``event`` after every change of the hall (a burst coalesced
    over ``coalesce_s``) and at least every ``refresh_s``; the stream ends when it says so.
    """
    loop = asyncio.get_running_loop()
    changed: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

    def offer(version: int) -> None:
        if changed.empty():
            changed.put_nowait(version)

    def on_change(version: int) -> None:
        loop.call_soon_threadsafe(offer, version)  # the bus thread hands over to the loop

    stop = watch.listen(on_change)

    async def events() -> AsyncIterator[str]:
        try:
            yield f"retry: {retry_ms}\n\n"  # the browser reconnects by itself after this long
            while not await request.is_disconnected():
                data, final = snapshot()
                yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                if final:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.get(), timeout=refresh_s)
                    await asyncio.sleep(coalesce_s)
        finally:
            stop()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
