"""``paidui demo``: broker, scheduler and a virtual hall, shown live in the terminal."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from counter_terminal.drivers import load_counter_profile
from counter_terminal.profile import BusKeypadProfile, BusRaterProfile, bus_family
from counter_terminal.terminal import CounterTerminal
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.identity import IdHasher, new_id_key
from hallbus.links import SerialLink
from hallbus.messages import RATING_LABELS_ZH, UNRATED, DeviceKind, RatingLevel
from hallbus.settings import BusSettings
from id_reader.daemon import IdReaderDaemon, IdReaderSettings
from id_reader.drivers import load_reader_profile
from id_reader.profile import SamSerialProfile
from id_reader.sam_reader import SamCardSource
from kiosk.daemon import KioskDaemon, KioskSettings
from kiosk.drivers import load_printer_profile
from kiosk.printer import PrinterAddress, TicketPrinter, open_link
from paidui.broker import (
    BROKER_CONFIG_DIR,
    EmbeddedBroker,
    MosquittoBroker,
    free_port,
    mosquitto_available,
    port_free,
)
from scheduler.bridge import SchedulerService
from scheduler.rating_token import RatingTokens, load_or_create_key
from scheduler.store import Store
from scheduler.web.accounts import AccountStore, Role
from scheduler.web.context import WebSettings
from scheduler.web.server import WebServer
from simulator.counter_bus_emulator import CounterBusEmulator
from simulator.display_wall_demo import DemoDisplayWall
from simulator.hall import Pace, VirtualHall
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.printer_emulator import PrinterEmulator

# The demo's first kiosk is the real kiosk daemon, printing on this emulated model and
# reading cards from its paired reader, the real reader daemon on an emulated SAM reader.
DEMO_PRINTER = "xprinter-xp-80c"
DEMO_READER = "sam-v-serial"
# Every counter's keypad and rater share one emulated RS-485 line, run by the real
# counter daemon.
DEMO_KEYPAD = "rs485-keypad-lcd"
DEMO_ACCOUNTS = {
    "admin": Role.ADMINISTRATOR,
    "manager": Role.HALL_MANAGER,
    "manager2": Role.HALL_MANAGER,  # "not adopted" needs a second manager's approval
    "viewer": Role.VIEWER,
}
DEMO_RATER = "rs485-rater-5key"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    """How to run the demo."""

    seconds: float | None = None  # None: until Ctrl-C
    hall_file: Path = DEMO_HALL_FILE
    data_dir: Path | None = None
    seed: int = 1
    embedded_broker: bool = False  # force the pure-Python broker even if mosquitto exists
    web_port: int = 8000  # the dashboard; another free port if this one is taken
    on_dashboard: Callable[[str], None] | None = None  # told the dashboard's URL once it serves


def _view(service: SchedulerService, hall: VirtualHall, wall: DemoDisplayWall) -> Group:
    windows = Table(title=f"{hall.hall.names.get('zh', '')}  {hall.hall.names.get('en', '')}")
    for column in ("window", "board shows", "serving", "waiting for it"):
        windows.add_column(column)
    queue = service.queue
    for number in queue.window_numbers():
        current = queue.current(number)
        board = next((b for b in hall.boards if b.window == number), None)
        windows.add_row(
            str(number),
            board.text if board else wall.window_text(number),
            f"{current.label} ({current.state.value})" if current else "-",
            str(queue.waiting_for_window(number)),
        )
    services = Table(title="services")
    for column in ("service", "waiting", "next in line"):
        services.add_column(column)
    for spec in hall.hall.services:
        services.add_row(
            f"{spec.prefix} {spec.names['zh']}",
            str(queue.waiting_count(spec.code)),
            " ".join(queue.waiting_labels(spec.code, 8)),
        )
    ratings = service.store.rating_counts()
    tally = Table(title="ratings (好差评)")
    tally.add_column("outcome")
    tally.add_column("count")
    for outcome, count in sorted(ratings.items()):
        label = RATING_LABELS_ZH.get(RatingLevel(outcome)) if outcome != UNRATED else "未评价"
        tally.add_row(f"{label} {outcome}", str(count))
    return Group(windows, services, tally)


def summarize(
    service: SchedulerService, hall: VirtualHall, printer: PrinterEmulator | None = None
) -> dict[str, int]:
    """The one-line result: what was issued, served, rated, and what got lost."""
    stored = service.store.ticket_ids()
    states = service.store.ticket_counts()
    ratings = service.store.rating_counts()
    with hall.counts.lock:
        acknowledged = set(hall.counts.issued_ids)
    return {
        "tickets_issued": len(acknowledged),
        "served": states.get("done", 0),
        "no_show": states.get("no_show", 0),
        "rated": sum(n for outcome, n in ratings.items() if outcome != UNRATED),
        "unrated": ratings.get(UNRATED, 0),
        # A ticket a kiosk was told about that the scheduler does not have.
        "lost": len(acknowledged - stored),
        # Paper tickets the emulated printer of the touch kiosk decoded.
        "printed": len(printer.tickets.items()) if printer else 0,
        # Tickets the real kiosk issued to a citizen who tapped an ID card.
        "card_tickets": hall.counts.card_tickets,
        # Finished transactions, and those without a rating record (a level or `unrated`).
        "transactions": service.store.transaction_count(),
        "without_rating": service.store.unrated_transactions(),
    }


def run_demo(options: DemoOptions) -> dict[str, int]:
    """Run the demo hall; returns the summary."""
    hall_config = load_hall(options.hall_file)
    with tempfile.TemporaryDirectory(prefix="paidui-demo-") as scratch:
        data_dir = options.data_dir or Path(scratch)
        port = free_port()
        broker: MosquittoBroker | EmbeddedBroker
        if mosquitto_available() and not options.embedded_broker:
            broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", port, data_dir / "broker")
            settings = BusSettings(port=port)
        else:
            log.warning("mosquitto not installed: using the embedded demo broker (MQTT 3.1.1)")
            broker = EmbeddedBroker(port)
            settings = BusSettings(port=port, protocol="3.1.1")
        broker.start()
        db_url = Store.sqlite_url(data_dir / "paidui.db")
        key_file = data_dir / "rating-page.key"
        tokens = RatingTokens(load_or_create_key(key_file), hall_config.id)
        service = SchedulerService(
            hall_config, Store(db_url, hall_config.id), settings, rating_tokens=tokens
        )
        web_port = options.web_port if port_free(options.web_port) else free_port()
        # One ID key for the card reader and the booking page, so a booking made online
        # checks in with the card; it lives only in the demo's temporary folder.
        id_key = data_dir / "id.key"
        id_key.touch(mode=0o600)
        id_key.write_text(new_id_key(), encoding="ascii")
        web = WebServer(
            WebSettings(
                db_url=db_url,
                hall=hall_config.id,
                bus=settings,
                rating_key_file=key_file,
                public_url=f"http://127.0.0.1:{web_port}",
                id_key_file=id_key,
            ),
            "127.0.0.1",
            web_port,
        )
        printer = PrinterEmulator(load_printer_profile(DEMO_PRINTER))
        kiosk = _touch_kiosk(hall_config, settings, printer, web.url)
        card_reader = IdReaderEmulator()
        reader = _id_reader(hall_config, settings, card_reader, data_dir)
        counter_line, counters, rater = _counters(hall_config, settings, data_dir)
        wall = DemoDisplayWall(hall_config, settings, data_dir)
        hall = VirtualHall(
            hall_config,
            settings,
            pace=Pace(),
            seed=options.seed,
            touch_kiosks=[kiosk],
            card_reader=card_reader,
            counter_line=counter_line,
            rater=rater,
        )
        try:
            service.start()
            password = demo_logins(service.store, hall_config.id)  # before anyone can log in
            web.start()
            print(
                f"Dashboard: {web.url}  login: manager / {password} "
                f"(also admin, manager2 and viewer, same password)",
                file=sys.stderr,
                flush=True,
            )
            if options.on_dashboard is not None:
                options.on_dashboard(web.url)
            reader.start()
            kiosk.start()
            counters.start()
            wall.start()
            hall.start()
            done = threading.Event()
            if options.seconds is not None:
                threading.Timer(options.seconds, done.set).start()
            if sys.stdout.isatty():
                console = Console()
                with Live(
                    _view(service, hall, wall), console=console, refresh_per_second=4
                ) as live:
                    while not done.wait(0.25):
                        live.update(_view(service, hall, wall))
            else:
                done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            # Clerks finish what they hold and every open prompt is rated or times out,
            # so every finished transaction has its rating record before the summary.
            hall.stop_arrivals_and_clerks()
            _await_ratings(service, hall_config.rating_timeout_s + hall_config.later_rating_s)
            hall.stop()
            shown = wall.stop()
            counters.stop()
            counter_line.stop()
            kiosk.stop()
            reader.stop()
            card_reader.stop()
            summary = summarize(service, hall, printer) | shown
            printer.stop()
            web.stop()
            service.stop()
            broker.stop()
    return summary


def demo_logins(store: Store, hall: str) -> str:
    """The demo's dashboard accounts, one per role, with a fresh password each run."""
    password = os.environ.get("PAIDUI_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    accounts = AccountStore(store, hall, session_lifetime=timedelta(hours=8))
    now = datetime.now(UTC)
    for name, role in DEMO_ACCOUNTS.items():
        accounts.ensure(name, password, role, actor="demo", now=now)
    return password


def _touch_kiosk(
    hall: HallConfig, settings: BusSettings, printer: PrinterEmulator, public_url: str
) -> KioskDaemon:
    kiosk = next(d for d in hall.devices if d.kind == "kiosk")
    profile = printer.profile
    link = open_link(PrinterAddress.parse(f"tcp:127.0.0.1:{printer.serve_tcp()}"), profile)
    return KioskDaemon(
        settings,
        hall.id,
        kiosk.id,
        TicketPrinter(link, profile),
        KioskSettings(
            hall_names=hall.names,
            timezone=hall.timezone,
            hotline=hall.hotline,
            max_recalls=hall.max_recalls,
            id_reader=kiosk.id_reader,
            public_url=public_url,
        ),
    )


def _await_ratings(service: SchedulerService, longest_s: float) -> None:
    """Wait until every finished transaction has its rating record, or prompts time out."""
    closing = threading.Event()
    deadline = time.monotonic() + longest_s + 5.0  # the scheduler's expiry runs each second
    while service.store.unrated_transactions() and time.monotonic() < deadline:
        closing.wait(0.2)


def _counters(
    hall: HallConfig, settings: BusSettings, data_dir: Path
) -> tuple[CounterBusEmulator, CounterTerminal, BusRaterProfile]:
    """Every window's keypad and rater on one emulated line, run by the real counter daemon."""
    keypad, rater = load_counter_profile(DEMO_KEYPAD), load_counter_profile(DEMO_RATER)
    assert isinstance(keypad, BusKeypadProfile) and isinstance(rater, BusRaterProfile)
    family = bus_family(keypad)
    line = CounterBusEmulator(family)
    windows = []
    for device in hall.devices:
        if device.kind in (DeviceKind.COUNTER, DeviceKind.RATING_PAD):
            if device.bus_address is None or device.window is None:
                raise ValueError(f"the demo hall's {device.id} needs a window and a bus_address")
            line.add(device.bus_address, keypad if device.kind == DeviceKind.COUNTER else rater)
            if device.kind == DeviceKind.COUNTER:
                windows.append(device.window)
    port = line.serve_pty(data_dir / "ttyRS485")
    terminal = CounterTerminal(
        settings, hall, windows, keypad=keypad, pad=rater, line=SerialLink(port, family.line)
    )
    return line, terminal, rater


def _id_reader(
    hall: HallConfig, settings: BusSettings, emulator: IdReaderEmulator, data_dir: Path
) -> IdReaderDaemon:
    """The real reader daemon on the emulated reader's pty, hashing with a key made now."""
    kiosk = next(d for d in hall.devices if d.kind == "kiosk")
    if kiosk.id_reader is None:
        raise ValueError(f"the demo hall's {kiosk.id} needs a paired id_reader")
    port = emulator.serve_pty(data_dir / "ttyIDR0")
    profile = load_reader_profile(DEMO_READER)
    assert isinstance(profile, SamSerialProfile)
    source = SamCardSource(SerialLink(port, profile.serial), profile.timing)
    # The demo's key lives only as long as the demo: no secret is kept anywhere.
    hasher = IdHasher.from_file(data_dir / "id.key")
    reader_settings = IdReaderSettings(timezone=hall.timezone, elderly_age=hall.elderly_age)
    return IdReaderDaemon(settings, hall.id, kiosk.id_reader, source, hasher, reader_settings)


def main_demo(options: DemoOptions) -> int:
    """Entry point of ``paidui demo``: prints the JSON summary as the last line."""
    summary = run_demo(options)
    print(json.dumps(summary), flush=True)
    return 0 if summary["lost"] == 0 else 1
