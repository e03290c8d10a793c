"""The virtual hall: citizens arriving at kiosks, clerks serving at counters, citizens rating.

Kiosks and boards are virtual devices on the real bus. Clerks and citizens at the counters
press the keys of emulated RS-485 keypads and raters, which the real counter daemon runs;
the scheduler cannot tell any of them from hardware. Simulated durations are real seconds,
scaled short so a demo minute shows a busy hall.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from counter_terminal.keys import ClerkKey
from counter_terminal.profile import BusRaterProfile
from hallbus.client import BusClient
from hallbus.hall_file import HallConfig
from hallbus.messages import DeviceKind, ErrorCode, KeyHandled, PayloadError, RatingLevel, decode
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from kiosk.daemon import KioskDaemon
from kiosk.flow import ChooseService, Confirm, Screen
from simulator.counter_bus_emulator import CounterBusEmulator, Shown
from simulator.devices import VirtualKiosk, VirtualWindowBoard
from simulator.id_cards import SAMPLE_CARDS
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.mailbox import Mailbox

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


KEY_WAIT_S = 30.0  # a clerk waits this long to see what came of a key


@dataclass
class Counter:
    """One window's keypad and rater on the emulated line, as its clerk and citizens see it."""

    window: int
    device_id: str  # the keypad's device id, whose key events tell the clerk the outcome
    keypad: int  # bus addresses
    rater: int
    keys: Mailbox[KeyHandled] = field(default_factory=Mailbox)
    prompts: Mailbox[Shown] = field(default_factory=Mailbox)


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
        counter_line: CounterBusEmulator | None = None,
        rater: BusRaterProfile | None = None,
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
        # The emulated RS-485 line of every counter's keypad and rater.
        self.counter_line = counter_line
        self.rater = rater
        self.counters: list[Counter] = []
        self._key_watch: BusClient | None = None
        # Citizens keep rating after the clerks stop, until the hall closes.
        self.closing = threading.Event()
        self._raters: list[threading.Thread] = []
        self.boards: list[VirtualWindowBoard] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Connect every device and start the citizens and clerks."""
        for device in self.hall.devices:
            if device.kind == "kiosk" and device.id in {k.device_id for k in self.touch_kiosks}:
                continue
            if device.kind == "kiosk":
                self.kiosks.append(VirtualKiosk(self.settings, self.hall.id, device.id))
            elif device.kind == "window_board" and device.window is not None:
                if device.bus_address is not None:
                    continue  # an LED board on a line: the LED wall daemon runs it
                self.boards.append(
                    VirtualWindowBoard(self.settings, self.hall.id, device.id, device.window)
                )
        for daemon in [*self.kiosks, *self.boards]:
            daemon.start()
        self._counters()
        # Clerks log in before the doors open, so no citizen finds every window closed.
        clerks = [c.code for c in self.hall.clerks]
        staffed = []
        for counter, clerk in zip(self.counters, clerks, strict=False):
            login = self._press(counter, ClerkKey.LOGIN, clerk)
            if login is not None and login.accepted:
                staffed.append(counter)
        self._spawn("citizens", self._citizens)
        for counter in staffed:
            self._spawn(f"clerk-{counter.window}", self._clerk, counter)
        for counter in self.counters:
            rater = threading.Thread(
                target=self._citizen_rates, args=(counter,), name=f"rater-{counter.window}"
            )
            rater.daemon = True
            rater.start()
            self._raters.append(rater)

    def _counters(self) -> None:
        """Watch each counter's key events (what its clerk reads off the keypad's screen)."""
        if self.counter_line is None:
            return
        topics = HallTopics(self.hall.id)
        watch = BusClient(self.settings, f"{self.hall.id}-clerks", topics.availability("clerks"))
        for keypad in self.hall.devices:
            if keypad.kind != DeviceKind.COUNTER or keypad.window is None:
                continue
            pads = self.hall.devices_of_window(keypad.window, DeviceKind.RATING_PAD)
            if keypad.bus_address is None or not pads or pads[0].bus_address is None:
                continue
            counter = Counter(keypad.window, keypad.id, keypad.bus_address, pads[0].bus_address)
            self.counters.append(counter)
            watch.subscribe(
                topics.device_event(keypad.id, DeviceEventKind.KEY),
                lambda _t, payload, c=counter: self._key_seen(c, payload),  # type: ignore[misc]
                inline=True,
            )
        watch.start()
        self._key_watch = watch
        by_rater = {c.rater: c for c in self.counters}
        self.counter_line.listeners.append(
            lambda shown: (
                by_rater[shown.address].prompts.put(shown) if shown.address in by_rater else None
            )
        )

    @staticmethod
    def _key_seen(counter: Counter, payload: bytes) -> None:
        try:
            counter.keys.put(decode(KeyHandled, payload))
        except PayloadError as err:
            log.warning("bad key event", extra={"error": str(err)})

    def stop_arrivals_and_clerks(self) -> None:
        """Stop new arrivals and let clerks finish what they hold."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def stop(self) -> None:
        """Stop everything and disconnect."""
        self.stop_arrivals_and_clerks()
        self.closing.set()
        for thread in self._raters:
            thread.join(timeout=10)
        for daemon in [*self.kiosks, *self.boards]:
            daemon.stop()
        if self._key_watch is not None:
            self._key_watch.stop()

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

    def _press(self, counter: Counter, key: ClerkKey, number: str = "") -> KeyHandled | None:
        """The clerk presses a key and reads what came of it; None if nothing did."""
        assert self.counter_line is not None
        seen = len(counter.keys.items())
        if not self.counter_line.press(counter.keypad, key, number):
            self.counts.error("keypad_not_acknowledged")
            return None
        result = counter.keys.wait_for(lambda _: True, KEY_WAIT_S, after=seen)
        if result is None:
            self.counts.error("key_without_answer")
        elif not result.accepted and result.outcome != ErrorCode.NOTHING_WAITING:
            self.counts.error(result.outcome)
        return result

    def _clerk(self, counter: Counter) -> None:
        while not self.stopping.is_set():
            called = self._press(counter, ClerkKey.CALL_NEXT)
            if called is None or not called.accepted:
                if not self._pause(0.3):
                    return
                continue
            # The clerk finishes what they called even while the hall closes.
            self.stopping.wait(self.pace.walk_to_window_s)
            if self.random.random() < self.pace.no_show_share:
                self._press(counter, ClerkKey.RECALL)
                done = self._press(counter, ClerkKey.NO_SHOW)
                if done is not None and done.accepted:
                    with self.counts.lock:
                        self.counts.no_show += 1
                continue
            self._press(counter, ClerkKey.START)
            self.stopping.wait(self.random.expovariate(1 / self.pace.service_mean_s))
            finished = self._press(counter, ClerkKey.FINISH)
            if finished is not None and finished.accepted:
                with self.counts.lock:
                    self.counts.served += 1

    def _citizen_rates(self, counter: Counter) -> None:
        """The citizen at a counter's rater: rates when it lights up, or walks away."""
        line, rater = self.counter_line, self.rater
        assert line is not None and rater is not None
        seen = 0
        while not self.closing.is_set():
            shown = counter.prompts.wait_for(
                lambda s: s.prompt == rater.prompt_states.rate, 0.5, after=seen
            )
            seen = len(counter.prompts.items())
            if shown is None:
                continue
            if self.random.random() >= self.pace.rating_share:
                continue  # walks away: the scheduler records `unrated` at the deadline
            level = self.random.choices(
                list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values())
            )[0]
            self.closing.wait(self.pace.rating_delay_s)
            line.press_button(counter.rater, rater.rating.levels.index(level) + 1)
            if level.is_bad:
                # The rater lights the reason keys; the citizen picks one.
                asked = counter.prompts.wait_for(
                    lambda s: s.prompt == rater.prompt_states.reason, 5, after=seen
                )
                if asked is not None:
                    line.press_button(
                        counter.rater, self.random.randint(1, len(rater.rating.reasons))
                    )
            with self.counts.lock:
                self.counts.rated += 1
