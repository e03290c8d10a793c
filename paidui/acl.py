"""The broker's access control list, written from the hall files.

Every device gets its own ``user`` block, named by its broker identity
(``<hall>.<device>``): it writes only below its own ``device/<id>/`` (availability,
status, events, requests) and reads its replies and commands plus the board state its
kind needs, and nothing else: a kiosk reads the service states and its own ID reader's
card events, a rating pad its own window's state, and so on. Only the hall's scheduler
writes replies, device commands, board state and hall events. mosquitto denies
whatever no line allows, so a hall missing from this file has no access at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hallbus.hall_file import DeviceConfig, HallConfig
from hallbus.messages import DeviceKind
from hallbus.topics import DeviceEventKind, HallEventKind, HallTopics


class AclError(ValueError):
    """The halls cannot share one broker as configured."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One ACL line: ``topic read|write <filter>``."""

    access: str
    topic: str

    def line(self) -> str:
        """The line as mosquitto reads it."""
        return f"topic {self.access} {self.topic}"


def _device_grants(topics: HallTopics, device: DeviceConfig, hall: HallConfig) -> list[Grant]:
    grants = [
        Grant("write", topics.availability(device.id)),
        Grant("write", topics.device_status(device.id)),
        Grant("write", topics.own_events(device.id)),
        Grant("write", topics.own_requests(device.id)),
        Grant("read", topics.reply(device.id)),
        Grant("read", topics.device_commands(device.id)),
        Grant("read", topics.scheduler_availability()),
    ]
    reads: list[str] = []
    match device.kind:
        case DeviceKind.KIOSK:
            reads = [topics.service_states()]
        case DeviceKind.COUNTER | DeviceKind.RATING_PAD:
            reads = [topics.window_state(device.window)] if device.window is not None else []
        case DeviceKind.WINDOW_BOARD:
            reads = [topics.hall_state()]
            if device.window is not None:
                reads.append(topics.window_state(device.window))
        case DeviceKind.HALL_BOARD:
            reads = [topics.all_state()]
        case DeviceKind.VOICE:
            reads = [topics.hall_event(HallEventKind.CALL), topics.hall_state()]
        case DeviceKind.PORTAL:
            reads = [
                topics.all_state(),
                topics.device_availabilities(),
                topics.device_statuses(),
                topics.device_events(DeviceEventKind.KEY),
                topics.hall_event(HallEventKind.RATING),
            ]
        case DeviceKind.ID_READER:
            reads = []
    if device.id_reader is not None and hall.device(device.id_reader) is not None:
        # The pairing: a kiosk or counter hears its own reader's cards, no other's.
        reads.append(topics.device_event(device.id_reader, DeviceEventKind.CARD_READ))
    return grants + [Grant("read", topic) for topic in reads]


def _scheduler_grants(topics: HallTopics) -> list[Grant]:
    return [
        Grant("read", topics.all_requests()),
        Grant("write", topics.all_replies()),
        Grant("write", topics.all_device_commands()),
        Grant("write", topics.all_state()),
        Grant("write", topics.hall_events()),
        Grant("readwrite", topics.scheduler_availability()),
    ]


def hall_grants(hall: HallConfig) -> dict[str, list[Grant]]:
    """Every broker identity of one hall and what it may do."""
    topics = HallTopics(hall.id)
    grants = {topics.scheduler_identity(): _scheduler_grants(topics)}
    for device in hall.devices:
        grants[topics.identity(device.id)] = _device_grants(topics, device, hall)
    return grants


def render_acl(halls: Iterable[HallConfig]) -> str:
    """The ``acl_file`` for a broker shared by ``halls``."""
    lines = [
        "# paidui broker ACL, written by `paidui broker acl` from the hall files; do not edit.",
        "# Anything not granted here is denied. Topic layout: hallbus/topics.py.",
    ]
    seen: set[str] = set()
    for hall in halls:
        if hall.id in seen:
            raise AclError(f"hall {hall.id!r} is given twice")
        seen.add(hall.id)
        lines.append("")
        lines.append(f"# hall {hall.id}")
        for identity, grants in hall_grants(hall).items():
            lines.append(f"user {identity}")
            lines.extend(grant.line() for grant in grants)
    return "\n".join(lines) + "\n"
