"""Base for device daemons: identity, availability, status and requests on one connection."""

from __future__ import annotations

from hallbus.client import BusClient, Requester
from hallbus.messages import DeviceKind, DeviceStatus, Reply, Request
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics


class DeviceDaemon:
    """A device on the bus. Subclasses subscribe in ``setup()`` and act in handlers."""

    kind: DeviceKind

    def __init__(self, settings: BusSettings, hall: str, device_id: str) -> None:
        self.settings = settings
        self.topics = HallTopics(hall)
        self.device_id = device_id
        self.bus = BusClient(
            settings, self.topics.identity(device_id), self.topics.availability(device_id)
        )
        self.requests = Requester(self.bus, self.topics, device_id)

    def setup(self) -> None:
        """Subscribe to what this device listens to (runs before connecting)."""

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect and announce the device as online and healthy."""
        self.requests.attach()
        self.setup()
        self.bus.start(timeout=timeout)
        self.publish_status(healthy=True)

    def stop(self) -> None:
        """Announce offline and disconnect."""
        self.bus.stop()

    def request(self, command: Command, request: Request, *, timeout: float = 2.0) -> Reply:
        """Send a request to the scheduler and wait for its answer."""
        return self.requests.request(command, request, timeout=timeout)

    def publish_status(
        self,
        *,
        healthy: bool,
        faults: list[str] | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        """Publish this device's retained status."""
        status = DeviceStatus(
            kind=self.kind, healthy=healthy, faults=faults or [], detail=detail or {}
        )
        self.bus.publish(self.topics.device_status(self.device_id), status, retain=True)
