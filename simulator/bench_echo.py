"""The floor of a request: a second process that answers every request at once, over the
same broker, topics and client code as the scheduler, with nothing behind it.

``python -m simulator.bench_echo --port P --hall H`` runs until killed; ``paidui bench``
starts it to measure what a request/reply costs before the scheduler does anything.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from hallbus.client import BusClient
from hallbus.messages import Message, Reply
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics


class _Empty(Message):
    """An empty answer."""


def serve(bus: BusSettings, hall: str, stop: threading.Event, ready: threading.Event) -> None:
    """Answer each request ok, on the device's reply topic, until ``stop`` is set."""
    topics = HallTopics(hall)
    client = BusClient(bus, "bench-echo-server", topics.availability("bench-echo-server"))

    def answer(topic: str, payload: bytes) -> None:
        parsed = topics.parse_request(topic)
        if parsed is None:
            return
        request_id = json.loads(payload).get("request_id")
        # QoS 0, as the scheduler replies: the floor is the same exchange with nothing behind.
        reply = Reply.ok(request_id, _Empty()).to_bytes()
        client.publish(topics.reply(parsed.device_id), reply, qos=0)

    client.subscribe(topics.all_requests(), answer, inline=True)
    client.start()
    ready.set()
    stop.wait()
    client.stop()


def main() -> None:
    """Entry point: serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hall", required=True)
    args = parser.parse_args()
    stop, ready = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (ready.wait(), print("ready", flush=True))).start()
    serve(BusSettings(port=args.port), args.hall, stop, ready)


if __name__ == "__main__":
    main()
