"""The live hall as the dashboard shows it: what the bus says now, and what needs a person.

``LivePicture`` is pure: it takes decoded bus messages and a clock reading and builds the
view and its alerts. ``HallWatch`` is the thin bus adapter that feeds it and tells the
open browser streams that something changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from hallbus.client import BusClient, Requester
from hallbus.clock import Clock
from hallbus.events import HallEventFollower
from hallbus.hall_file import HallConfig
from hallbus.hall_time import hall_iso
from hallbus.i18n import Texts
from hallbus.messages import (
    DeviceKind,
    DeviceStatus,
    HallState,
    KeyHandled,
    Message,
    PayloadError,
    PrinterFault,
    RatingRecorded,
    ServiceState,
    WindowState,
    WindowStatus,
    decode,
)
from hallbus.topics import DeviceEventKind, HallEventKind, HallTopics
from scheduler.web.words import N_, dashboard_words, key_words, window_name

log = logging.getLogger(__name__)

_M = TypeVar("_M", bound=Message)

RECENT_EVENTS = 30  # key presses and ratings kept for the live page's ticker
DEVICE_KINDS = {  # as the hall calls its devices
    DeviceKind.KIOSK.value: N_("Kiosk"),
    DeviceKind.ID_READER.value: N_("ID card reader"),
    DeviceKind.COUNTER.value: N_("Caller keypad"),
    DeviceKind.RATING_PAD.value: N_("Rating pad"),
    DeviceKind.WINDOW_BOARD.value: N_("Window board"),
    DeviceKind.HALL_BOARD.value: N_("Hall board"),
    DeviceKind.VOICE.value: N_("Voice"),
    DeviceKind.PORTAL.value: N_("Web portal"),
}


@dataclass
class DeviceSeen:
    """What the bus has said about one device."""

    online: bool | None = None  # None: never heard of since the dashboard started
    status: DeviceStatus | None = None
    last_seen: datetime | None = None
    last_key: KeyHandled | None = None


@dataclass(frozen=True)
class Alert:
    """Something in the hall that needs a person now."""

    kind: str  # long_wait, long_pause, device_offline, paper_low, device_fault, scheduler
    subject: str  # what it is about, as the hall file names it: a code, "window 3", an id
    about: str  # the subject in the reader's words
    message: str


@dataclass
class LivePicture:
    """The latest retained state and events of one hall (pure; fed by HallWatch)."""

    windows: dict[int, WindowState] = field(default_factory=dict)
    services: dict[str, ServiceState] = field(default_factory=dict)
    hall: HallState | None = None
    devices: dict[str, DeviceSeen] = field(default_factory=dict)
    scheduler_online: bool | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def device(self, device_id: str) -> DeviceSeen:
        """The record of one device, made on first mention."""
        return self.devices.setdefault(device_id, DeviceSeen())

    def note_event(self, event: dict[str, Any]) -> None:
        """Keep an event for the ticker, newest first."""
        self.events.insert(0, event)
        del self.events[RECENT_EVENTS:]


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


def alerts(
    picture: LivePicture, config: HallConfig, now: datetime, texts: Texts | None = None
) -> list[Alert]:
    """Everything over its threshold or broken, most urgent kinds first, in ``texts``'
    language (the hall's Chinese when not given)."""
    texts = texts or dashboard_words("zh")
    found: list[Alert] = []
    if picture.scheduler_online is False:
        found.append(
            Alert(
                "scheduler",
                "scheduler",
                texts("Scheduler"),
                texts("offline: no tickets, no calls"),
            )
        )
    for service in config.services:
        state = picture.services.get(service.code)
        waited = _seconds(state.longest_waiting_since if state else None, now)
        limit = timedelta(minutes=service.alert_wait_min or config.alert_wait_min)
        if waited is not None and waited > limit.total_seconds():
            message = texts("a ticket has waited {minutes} min", minutes=waited // 60)
            name = texts.pick(service.names, service.code)
            found.append(Alert("long_wait", service.code, name, message))
    for number, window in sorted(picture.windows.items()):
        paused = _seconds(window.status_since, now)
        too_long = paused is not None and paused > config.alert_pause_min * 60
        if window.status == WindowStatus.PAUSED and paused is not None and too_long:
            message = texts("paused for {minutes} min", minutes=paused // 60)
            found.append(
                Alert("long_pause", f"window {number}", window_name(texts, number), message)
            )
    for device in config.devices:
        seen = picture.devices.get(device.id)
        if seen is None or seen.online is not True:
            never = seen is None or seen.online is None
            what = texts(DEVICE_KINDS.get(device.kind.value, device.kind.value))
            said = texts("never connected") if never else texts("offline")
            found.append(Alert("device_offline", device.id, device.id, f"{what} {said}"))
            continue
        faults = seen.status.faults if seen.status else []
        if device.kind == DeviceKind.KIOSK and (
            PrinterFault.PAPER_NEAR_END in faults or PrinterFault.PAPER_OUT in faults
        ):
            out = PrinterFault.PAPER_OUT in faults
            said = texts("printer out of paper") if out else texts("paper low")
            found.append(Alert("paper_low", device.id, device.id, said))
        elif seen.status is not None and not seen.status.healthy:
            said = texts(", ").join(faults) or texts("unhealthy")
            found.append(Alert("device_fault", device.id, device.id, said))
    return found


def live_view(
    picture: LivePicture,
    config: HallConfig,
    now: datetime,
    locked: Sequence[tuple[str, datetime]] = (),
    texts: Texts | None = None,
) -> dict[str, Any]:
    """The JSON the live page draws: windows, services, alerts, recent events.

    ``locked``: clerks locked out by wrong PINs and until when (from the store); names
    and alerts in ``texts``' language (the hall's Chinese when not given).
    """
    texts = texts or dashboard_words("zh")
    windows = []
    for window in config.windows:
        state = picture.windows.get(window.number)
        current = state.current if state else None
        windows.append(
            {
                "number": window.number,
                "status": state.status.value if state else "unknown",
                "pause_reason": state.pause_reason.value if state and state.pause_reason else None,
                "status_for_s": _seconds(state.status_since if state else None, now),
                "clerk": state.clerk.name if state and state.clerk else None,
                "ticket": current.label if current else None,
                "ticket_state": current.state.value if current else None,
                "served_for_s": (
                    _seconds(current.serving_since or current.called_at, now) if current else None
                ),
                "waiting": state.waiting if state else None,
            }
        )
    services = []
    for service in config.services:
        shown = picture.services.get(service.code)
        services.append(
            {
                "code": service.code,
                "name": texts.pick(service.names, service.code),
                "prefix": service.prefix,
                "waiting": shown.waiting if shown else None,
                "longest_wait_s": _seconds(shown.longest_waiting_since if shown else None, now),
                "estimated_wait_s": shown.estimated_wait_s if shown else None,
                "open_windows": shown.open_windows if shown else None,
                "unavailable": (
                    shown.unavailable.code.value if shown and shown.unavailable else None
                ),
            }
        )
    zone = config.zone
    return {
        "at": hall_iso(now, zone),
        "scheduler_online": picture.scheduler_online,
        "windows": windows,
        "services": services,
        "recent_calls": (
            [c.model_dump(mode="json") for c in picture.hall.recent_calls] if picture.hall else []
        ),
        "alerts": [vars(a) for a in alerts(picture, config, now, texts)]
        + [
            vars(
                Alert(
                    "clerk_locked",
                    code,
                    texts("Clerk {code}", code=code),
                    texts(
                        "wrong PINs, locked until {time}",
                        time=until.astimezone(zone).strftime("%H:%M"),
                    ),
                )
            )
            for code, until in locked
        ],
        # Event times on the hall's clock: the page shows their hh:mm:ss as they are.
        "events": [
            {**e, "at": hall_iso(datetime.fromisoformat(e["at"]), zone)} for e in picture.events
        ],
    }


def device_rows(
    picture: LivePicture, config: HallConfig, texts: Texts | None = None
) -> list[dict[str, Any]]:
    """Every configured device, and any unknown one heard on the bus, with what is known
    (its last key in ``texts``' words, the hall's Chinese when not given)."""
    texts = texts or dashboard_words("zh")
    rows = []
    known = {d.id for d in config.devices}
    zone = config.zone
    for device in config.devices:
        seen = picture.devices.get(device.id, DeviceSeen())
        row = _device_row(
            device.id, device.kind.value, device.window, device.profile, seen, zone, texts
        )
        rows.append({**row, "configured": True})
    for device_id, seen in sorted(picture.devices.items()):
        if device_id not in known:
            kind = seen.status.kind.value if seen.status else "unknown"
            row = _device_row(device_id, kind, None, None, seen, zone, texts)
            rows.append({**row, "configured": False})
    return rows


def _device_row(
    device_id: str,
    kind: str,
    window: int | None,
    profile: str | None,
    seen: DeviceSeen,
    zone: tzinfo,
    texts: Texts,
) -> dict[str, Any]:
    status = seen.status
    key = seen.last_key
    return {
        "id": device_id,
        "kind": kind,
        "window": window,
        "profile": profile or (status.detail.get("model") if status else None),
        "availability": {True: "online", False: "offline", None: "unknown"}[seen.online],
        "last_seen": hall_iso(seen.last_seen, zone) if seen.last_seen else None,
        "healthy": status.healthy if status else None,
        "faults": status.faults if status else [],
        "detail": status.detail if status else {},
        "last_key": key_words(texts, key.key, key.outcome) if key else None,
    }


class HallWatch:
    """Subscribes to the hall's retained state and events and keeps the live picture."""

    def __init__(self, bus: BusClient, topics: HallTopics, clock: Clock) -> None:
        self.bus = bus
        self.topics = topics
        self.clock = clock
        self.picture = LivePicture()
        self.version = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self.events: HallEventFollower | None = None

    def attach(self, requester: Requester) -> None:
        """Subscribe; call before the bus starts. Rating records come without gaps."""
        topics = self.topics
        self.bus.subscribe(topics.window_states(), self._on_window)
        self.bus.subscribe(topics.service_states(), self._on_service)
        self.bus.subscribe(topics.hall_state(), self._on_hall)
        self.bus.subscribe(topics.scheduler_availability(), self._on_scheduler)
        self.bus.subscribe(topics.device_availabilities(), self._on_availability)
        self.bus.subscribe(topics.device_statuses(), self._on_status)
        self.bus.subscribe(topics.device_events(DeviceEventKind.KEY), self._on_key)
        # Ratings come through a follower: one the broker lost is replayed, none twice.
        self.events = HallEventFollower(
            self.bus, requester, self._on_event, kinds=(HallEventKind.RATING,)
        )
        self.events.attach()

    def detach(self) -> None:
        """Stop following events."""
        if self.events is not None:
            self.events.stop()

    def listen(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call ``listener(version)`` after every change; returns the way to stop."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            version, listeners = self.version, list(self._listeners)
        for listener in listeners:
            listener(version)

    def _decode(self, model: type[_M], topic: str, payload: bytes) -> _M | None:
        if not payload:
            return None  # a cleared retained message
        try:
            return decode(model, payload)
        except PayloadError as err:
            log.warning(
                "dashboard dropped a bad message", extra={"topic": topic, "error": f"{err}"}
            )
            return None

    def _on_window(self, topic: str, payload: bytes) -> None:
        state = self._decode(WindowState, topic, payload)
        if state is not None:
            self.picture.windows[state.window] = state
            self._changed()

    def _on_service(self, topic: str, payload: bytes) -> None:
        state = self._decode(ServiceState, topic, payload)
        if state is not None:
            self.picture.services[state.service_code] = state
            self._changed()

    def _on_hall(self, topic: str, payload: bytes) -> None:
        state = self._decode(HallState, topic, payload)
        if state is not None:
            self.picture.hall = state
            self._changed()

    def _on_scheduler(self, topic: str, payload: bytes) -> None:
        self.picture.scheduler_online = payload == b"online"
        self._changed()

    def _seen(self, topic: str) -> DeviceSeen | None:
        device_id = self.topics.device_of(topic)
        if device_id is None:
            return None
        seen = self.picture.device(device_id)
        seen.last_seen = self.clock.now()
        return seen

    def _on_availability(self, topic: str, payload: bytes) -> None:
        seen = self._seen(topic)
        if seen is not None:
            seen.online = payload == b"online"
            self._changed()

    def _on_status(self, topic: str, payload: bytes) -> None:
        status = self._decode(DeviceStatus, topic, payload)
        seen = self._seen(topic)
        if seen is not None and status is not None:
            seen.status = status
            self._changed()

    def _on_key(self, topic: str, payload: bytes) -> None:
        key = self._decode(KeyHandled, topic, payload)
        seen = self._seen(topic)
        if seen is not None and key is not None:
            seen.last_key = key
            self.picture.note_event(
                {
                    "kind": "key",
                    "device": self.topics.device_of(topic),
                    "key": key.key,
                    "outcome": key.outcome,
                    "text": f"{key.key}: {key.outcome}",
                    "at": key.at.isoformat(),
                }
            )
            self._changed()

    def _on_event(self, kind: HallEventKind, _seq: int, payload: bytes) -> None:
        if kind == HallEventKind.RATING:
            self._on_rating(self.topics.hall_event(kind), payload)

    def _on_rating(self, topic: str, payload: bytes) -> None:
        record = self._decode(RatingRecorded, topic, payload)
        if record is not None:
            self.picture.note_event(
                {
                    "kind": "rating",
                    "device": f"window {record.window}",
                    "window": record.window,
                    "label": record.ticket_label,
                    "outcome": record.outcome,
                    "text": f"{record.ticket_label}: {record.outcome}",
                    "at": record.recorded_at.isoformat(),
                }
            )
            self._changed()
