"""The virtual hall: citizens arriving at kiosks, clerks serving at counters, citizens rating.

Every actor is a virtual device on the real bus; the scheduler cannot tell them from hardware.
Simulated durations are real seconds, scaled short so a demo minute shows a busy hall.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hallbus.messages import ErrorCode, RatingLevel, RatingPrompt
from hallbus.settings import BusSettings
from kiosk.daemon import KioskDaemon
from kiosk.flow import ChooseService, Confirm, Screen
from scheduler.config import HallConfig
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad, VirtualWindowBoard
from simulator.id_cards import SAMPLE_CARDS
from simulator.id_reader_emulator import IdReaderEmulator

log = logging.getLogger(__name__)

# How citizens rate when they do: mostly satisfied, some bad ratings to follow up.
RATING_WEIGHTS = {
    RatingLevel.VERY_SATISFIED: 55,
    RatingLevel.SATISFIED: 25,
    RatingLevel.BASICALLY_SATISFIED: 12,
    RatingLevel.DISSATISFIED: 5,
    RatingLevel.VERY_DISSATISFIED: 3,
}


@dataclass(frozen=True)
class Pace:
    """Simulated timings in seconds and behaviour shares."""

    arrival_mean_s: float = 0.35
    walk_to_window_s: float = 0.3
    service_mean_s: float = 1.2
    no_show_share: float = 0.08
    rating_share: float = 0.8
    rating_delay_s: float = 0.4
    card_every: int = 3  # every third citizen at the touch kiosk (the first too) taps a card


@dataclass
class HallCounts:
    """What the virtual hall observed from its side of the bus."""

    issued_ids: set[str] = field(default_factory=set)
    served: int = 0
    no_show: int = 0
    rated: int = 0
    card_tickets: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, code: str) -> None:
        """Count an error reply."""
        with self.lock:
            self.errors[code] = self.errors.get(code, 0) + 1


class VirtualHall:
    """Every virtual device of a hall configuration, with citizens and clerks driving them."""

    def __init__(
        self,
        hall: HallConfig,
        settings: BusSettings,
        *,
        pace: Pace | None = None,
        seed: int = 1,
        touch_kiosks: list[KioskDaemon] | None = None,
        card_reader: IdReaderEmulator | None = None,
    ) -> None:
        self.hall = hall
        self.settings = settings
        self.pace = pace or Pace()
        self.random = random.Random(seed)
        self.counts = HallCounts()
        self.stopping = threading.Event()
        self.kiosks: list[VirtualKiosk] = []
        # Real kiosk daemons (with a printer) that citizens use by touching their screen.
        self.touch_kiosks = touch_kiosks or []
        # The emulated ID reader paired with the first touch kiosk, where citizens tap cards.
        self.card_reader = card_reader
        self._touch_citizens = 0
        self.counters: list[VirtualCounter] = []
        self.pads: list[VirtualRatingPad] = []
        self.boards: list[VirtualWindowBoard] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Connect every device and start the citizens and clerks."""
        for device in self.hall.devices:
            if device.kind == "kiosk" and device.id in {k.device_id for k in self.touch_kiosks}:
                continue
            if device.kind == "kiosk":
                self.kiosks.append(VirtualKiosk(self.settings, self.hall.id, device.id))
            elif device.kind == "counter" and device.window is not None:
                self.counters.append(
                    VirtualCounter(self.settings, self.hall.id, device.id, device.window)
                )
            elif device.kind == "rating_pad" and device.window is not None:
                pad = VirtualRatingPad(self.settings, self.hall.id, device.id, device.window)
                pad.on_prompt = self._citizen_rates(pad)
                self.pads.append(pad)
            elif device.kind == "window_board" and device.window is not None:
                self.boards.append(
                    VirtualWindowBoard(self.settings, self.hall.id, device.id, device.window)
                )
        for daemon in [*self.kiosks, *self.counters, *self.pads, *self.boards]:
            daemon.start()
        # Clerks log in before the doors open, so no citizen finds every window closed.
        clerks = [c.code for c in self.hall.clerks]
        staffed = []
        for counter, clerk in zip(self.counters, clerks, strict=False):
            login = counter.login(clerk)
            if login.error is not None:
                self.counts.error(login.error.code)
            else:
                staffed.append(counter)
        self._spawn("citizens", self._citizens)
        for counter in staffed:
            self._spawn(f"clerk-{counter.window}", self._clerk, counter)

    def stop_arrivals_and_clerks(self) -> None:
        """Stop new arrivals and let clerks finish what they hold."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def stop(self) -> None:
        """Stop everything and disconnect."""
        self.stop_arrivals_and_clerks()
        for daemon in [*self.kiosks, *self.counters, *self.pads, *self.boards]:
            daemon.stop()

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pause(self, mean_s: float) -> bool:
        """Wait a random while; False if the hall is stopping."""
        return not self.stopping.wait(self.random.expovariate(1 / mean_s))

    def _citizens(self) -> None:
        services = [s.code for s in self.hall.services]
        while self._pause(self.pace.arrival_mean_s):
            choices: list[VirtualKiosk | KioskDaemon] = [*self.kiosks, *self.touch_kiosks]
            kiosk = self.random.choice(choices)
            if isinstance(kiosk, KioskDaemon):
                self._touch_kiosk(kiosk, self.random.choice(services))
                continue
            # About one citizen in six shows an ID card that makes them elderly.
            age = self.random.choice([35, 42, 28, 51, 67, 74])
            reply = kiosk.issue(self.random.choice(services), age=age)
            if reply.status == "ok" and reply.data is not None:
                with self.counts.lock:
                    self.counts.issued_ids.add(reply.data["ticket_id"])
            elif reply.error is not None:
                self.counts.error(reply.error.code)

    def _touch_kiosk(self, kiosk: KioskDaemon, service_code: str) -> None:
        """A citizen at a real kiosk: touches the service, reads the documents, takes a ticket."""

        if kiosk.wait_for(lambda v: v.screen is Screen.MENU, 5) is None:
            self.counts.error("kiosk_busy")
            return
        kiosk.touch(ChooseService(service_code))
        tapped = self._tap_card(kiosk)
        kiosk.touch(Confirm())
        view = kiosk.wait_for(lambda v: v.settled, 10)
        if view is not None and view.issued is not None:
            with self.counts.lock:
                self.counts.issued_ids.add(view.issued.ticket.ticket_id)
                self.counts.card_tickets += int(tapped)
        elif view is not None and view.notice is not None:
            self.counts.error(view.notice.code or view.notice.kind)
        kiosk.touch(Confirm())  # back to the menu for the next citizen

    def _tap_card(self, kiosk: KioskDaemon) -> bool:
        """Some citizens tap their ID card on the documents screen: the ticket gets its age."""
        reader = self.card_reader
        if reader is None or kiosk is not self.touch_kiosks[0]:
            return False
        self._touch_citizens += 1
        if (self._touch_citizens - 1) % self.pace.card_every:
            return False
        reader.place(self.random.choice(SAMPLE_CARDS))
        view = kiosk.wait_for(lambda v: v.card is not None, 5)
        reader.remove()
        # Let the reader see the card gone before anyone taps again, or the same card
        # tapped twice in a row would be taken for one tap.
        reader.requests.wait_count(len(reader.requests.items()) + 3, 5)
        if view is None:
            self.counts.error("card_not_read")
            return False
        return True

    def _clerk(self, counter: VirtualCounter) -> None:
        while not self.stopping.is_set():
            reply = counter.call_next()
            if reply.status == "error":
                assert reply.error is not None
                if reply.error.code != ErrorCode.NOTHING_WAITING:
                    self.counts.error(reply.error.code)
                if not self._pause(0.3):
                    return
                continue
            # The clerk finishes what they called even while the hall closes.
            self.stopping.wait(self.pace.walk_to_window_s)
            if self.random.random() < self.pace.no_show_share:
                counter.recall()
                if counter.no_show().status == "ok":
                    with self.counts.lock:
                        self.counts.no_show += 1
                continue
            counter.start_service()
            self.stopping.wait(self.random.expovariate(1 / self.pace.service_mean_s))
            if counter.finish().status == "ok":
                with self.counts.lock:
                    self.counts.served += 1

    def _citizen_rates(self, pad: VirtualRatingPad) -> Callable[[RatingPrompt], None]:
        def on_prompt(prompt: RatingPrompt) -> None:
            if self.random.random() >= self.pace.rating_share:
                return  # walks away: the scheduler records `unrated` at the deadline
            level = self.random.choices(
                list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values())
            )[0]
            # Runs on the pad's dispatcher thread: one citizen at a pad at a time.
            if not self.stopping.wait(self.pace.rating_delay_s):
                self._rate(pad, prompt.transaction_id, level)

        return on_prompt

    def _rate(self, pad: VirtualRatingPad, transaction_id: str, level: RatingLevel) -> None:
        reply = pad.rate(transaction_id, level)
        if reply.status == "ok":
            with self.counts.lock:
                self.counts.rated += 1
        elif reply.error is not None:
            self.counts.error(reply.error.code)
