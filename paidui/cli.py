"""The ``paidui`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from hallbus.identity import IdHasher
from hallbus.logs import configure_logging
from paidui.runtime import add_bus_options, bus_settings, stop_on_signal, tcp_port, wait_for_signal

if TYPE_CHECKING:  # the hall file's model is imported by the commands that load one
    from hallbus.hall_file import HallConfig

# pygame greets on stdout at import; commands whose stdout is JSON must not print it.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

log = logging.getLogger("paidui")
# As scheduler.planning.WEEKDAYS (kept here so the parser imports no scheduler code).
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hall_today(hall: HallConfig) -> date:
    """Today on the hall's wall clock (a default day is the hall's, not the machine's)."""
    return datetime.now(UTC).astimezone(hall.zone).date()


def cmd_plan_erlang(args: argparse.Namespace) -> int:
    """Print the fewest windows for the target and their figures, as one JSON object."""
    from scheduler.erlang import PlanError, fewest_windows

    try:
        figures = fewest_windows(
            args.arrivals_per_hour, args.service_min, args.target_wait_min, args.target_share
        )
    except PlanError as err:
        print(f"paidui plan erlang: {err}", file=sys.stderr)
        return 2
    print(json.dumps(figures.as_dict()))
    return 0


def cmd_plan_history(args: argparse.Namespace) -> int:
    """Windows per hour for a weekday from the hall's history, each checked by simulation."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    from hallbus.hall_file import load_hall
    from scheduler.erlang import PlanError
    from scheduler.planning import (
        WEEKDAYS,
        arrival_rates,
        check_by_simulation,
        plan_hours,
        service_minutes,
    )

    hall = load_hall(args.hall_file)
    last = args.last or hall_today(hall) - timedelta(days=1)
    first = args.first or last - timedelta(weeks=8)
    engine = create_engine(args.db)
    try:
        rates = arrival_rates(engine, hall, first, last, WEEKDAYS.index(args.weekday))
        minutes = service_minutes(engine, hall, first, last)
    except DBAPIError as err:
        print(f"paidui plan history: cannot read the history: {err.orig}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    try:
        plans = plan_hours(rates, minutes, args.target_wait_min, args.target_share)
    except PlanError as err:
        print(f"paidui plan history: {err}", file=sys.stderr)
        return 2
    if not args.no_check:
        check_by_simulation(plans, args.target_wait_min)
    print(
        json.dumps(
            {
                "hall": hall.id,
                "weekday": args.weekday,
                "history": [first.isoformat(), last.isoformat()],
                "target": {"wait_min": args.target_wait_min, "share": args.target_share},
                "hours": [p.as_dict() for p in plans],
            },
            ensure_ascii=False,
        )
    )
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    """Write every screen's picture into a folder and print how many of each."""
    from simulator.gallery import write_gallery

    counts = write_gallery(args.out)
    print(json.dumps({"folder": str(args.out), **counts}))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo hall."""
    from simulator.demo import DemoOptions, main_demo

    return main_demo(
        DemoOptions(
            seconds=args.seconds,
            hall_file=args.hall,
            seed=args.seed,
            embedded_broker=args.embedded_broker,
            data_dir=args.data_dir,
            web_port=args.web_port,
        )
    )


def cmd_chaos(args: argparse.Namespace) -> int:
    """Drive a hall while killing its scheduler and broker; print the counts that must be 0."""
    from simulator.chaos import ChaosOptions, main_chaos

    return main_chaos(
        ChaosOptions(seconds=args.seconds, db_url=args.db, kill_every_s=args.kill_every)
    )


def cmd_broker(args: argparse.Namespace) -> int:
    """Run mosquitto with the project's configuration (or the embedded broker for the demo)."""
    from paidui.broker import (
        BROKER_CONFIG_DIR,
        EmbeddedBroker,
        MosquittoBroker,
        mosquitto_available,
    )

    config = Path(args.config)
    if not config.exists():
        config = BROKER_CONFIG_DIR / f"{args.config}.conf"
    if mosquitto_available():
        # The file's first listener takes --port; production's loopback listener (1883 in
        # the file) takes --local-port, so a second broker on one machine collides nowhere.
        broker = MosquittoBroker(
            config,
            args.port,
            Path(args.data),
            broker_dir=args.broker_dir,
            listener_ports={1883: args.local_port} if args.local_port else None,
        )
        broker.start()
        log.info("mosquitto running", extra={"port": args.port, "config": str(config)})
        wait_for_signal()
        broker.stop()
        return 0
    if config.name != "demo.conf":
        log.error("mosquitto is not installed; only the demo can use the embedded broker")
        return 2
    embedded = EmbeddedBroker(args.port)
    embedded.start()
    log.warning("mosquitto not installed: embedded MQTT 3.1.1 broker", extra={"port": args.port})
    wait_for_signal()
    embedded.stop()
    return 0


def _rating_key_file(args: argparse.Namespace, hall: str) -> Path:
    return Path(args.rating_key or f"paidui-{hall}-rating.key").resolve()


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Run the scheduler of one hall until SIGTERM."""
    from hallbus.hall_file import load_hall
    from scheduler.bridge import SchedulerService
    from scheduler.checkpoints import WitnessFile, load_signing_key
    from scheduler.contacts import ContactVault
    from scheduler.rating_token import RatingTokens, load_or_create_key
    from scheduler.store import Store

    hall = load_hall(args.hall)
    url = args.db or Store.sqlite_url(Path(f"paidui-{hall.id}.db").resolve())
    tokens = RatingTokens(load_or_create_key(_rating_key_file(args, hall.id)), hall.id)
    ledger_key = load_signing_key(args.ledger_key) if args.ledger_key else None
    witness = WitnessFile(args.checkpoint_file) if args.checkpoint_file else None
    # The dashboard's default is the same file: both seal and open callback numbers.
    contact_key = args.contact_key or _rating_key_file(args, hall.id).with_suffix(".contact.key")
    contacts = ContactVault(contact_key)

    def make_service() -> SchedulerService:
        return SchedulerService(
            hall,
            Store(url, hall.id),
            bus_settings(args),
            rating_tokens=tokens,
            ledger_key=ledger_key,
            witness=witness,
            contacts=contacts,
        )

    if url.startswith("postgresql"):
        # Any number of schedulers per hall: one is active, the others stand by (leader.py).
        from hallbus.clock import SystemClock
        from scheduler.leader import HallLease, LeaderRunner

        stop = stop_on_signal()
        runner = LeaderRunner(HallLease(url, hall.id), make_service, clock=SystemClock())
        why = runner.run(stop)
        log.info("scheduler ended", extra={"hall": hall.id, "why": why})
        return 0 if why == "stopped" else 3  # systemd restarts it as a standby
    service = make_service()
    service.start(timeout=None)
    log.info("scheduler running", extra={"hall": hall.id})
    wait_for_signal()
    service.stop()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the dashboard, API and public rating page of one hall until SIGTERM."""
    from scheduler.web.context import WebSettings
    from scheduler.web.server import WebServer

    settings = WebSettings(
        db_url=_store_url(args),
        hall=args.hall,
        bus=bus_settings(args),
        portal_device=args.device_id,
        rating_key_file=_rating_key_file(args, args.hall),
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        secure_cookies=args.secure_cookies,
        trusted_proxies=tuple(args.trusted_proxy),
        id_key_file=Path(args.id_key_file) if args.id_key_file else None,
    )
    server = WebServer(settings, args.host, args.port)
    server.start()
    log.info("dashboard running", extra={"url": server.url, "hall": args.hall})
    wait_for_signal()
    server.stop()
    return 0


def cmd_accounts_add(args: argparse.Namespace) -> int:
    """Create a dashboard account; the password comes from PAIDUI_NEW_PASSWORD or a prompt."""
    import getpass

    from scheduler.store import Store
    from scheduler.web.accounts import AccountError, AccountStore, Role

    password = os.environ.get("PAIDUI_NEW_PASSWORD") or getpass.getpass("password: ")
    store = Store(_store_url(args), args.hall)
    store.open()
    try:
        accounts = AccountStore(store, args.hall, session_lifetime=timedelta(hours=8))
        accounts.create(
            args.username, password, Role(args.role), actor="command line", now=datetime.now(UTC)
        )
    except AccountError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(json.dumps({"username": args.username, "role": args.role}))
    return 0


def cmd_clerks_pin(args: argparse.Namespace) -> int:
    """Set a clerk's PIN (from PAIDUI_NEW_PIN or a prompt); only its argon2 hash is kept."""
    import getpass
    import re

    from hallbus.hall_file import load_hall
    from scheduler.clerk_pins import PIN_PATTERN, hash_pin
    from scheduler.store import Store

    hall = load_hall(args.hall_file)
    if hall.clerk(args.code) is None:
        print(f"refused: clerk {args.code} is not in {args.hall_file}", file=sys.stderr)
        return 2
    pin = os.environ.get("PAIDUI_NEW_PIN") or getpass.getpass("PIN (4-8 digits): ")
    if not re.fullmatch(PIN_PATTERN, pin):
        print("refused: a PIN is 4 to 8 digits", file=sys.stderr)
        return 2
    store = Store(args.db or Store.sqlite_url(Path(f"paidui-{hall.id}.db").resolve()), hall.id)
    store.open()
    try:
        store.set_clerk_pin(args.code, hash_pin(pin), "command line", datetime.now(UTC))
    finally:
        store.close()
    print(json.dumps({"hall": hall.id, "clerk": args.code, "pin": "set"}))
    return 0


def _store_url(args: argparse.Namespace) -> str:
    from scheduler.store import Store

    return str(args.db or Store.sqlite_url(Path(f"paidui-{args.hall}.db").resolve()))


def cmd_ratings_key(args: argparse.Namespace) -> int:
    """Make the hall's ledger signing key (owner-only) and its public half for auditors."""
    from scheduler.checkpoints import CheckpointKeyError, make_signing_key

    try:
        public = make_signing_key(args.out)
    except CheckpointKeyError as err:
        log.error("%s", err)
        return 2
    print(json.dumps({"key": str(args.out), "public_key": str(public)}))
    return 0


def cmd_ratings_verify(args: argparse.Namespace) -> int:
    """Check a hall's rating ledger: the chain, signed checkpoints, witnesses; exit 1 if broken."""
    from scheduler.checkpoints import Checkpoint, WitnessFile, audit_ledger, load_public_key
    from scheduler.store import Store

    store = Store(_store_url(args), args.hall)
    store.open(migrate=False)
    try:
        ledger = store.ledger_entries()
        kept: list[tuple[str, Checkpoint]] = [("database", c) for c in store.checkpoints()]
    finally:
        store.close()
    for witness in args.witness:
        kept += [(f"witness {witness}", c) for c in WitnessFile(witness).read(args.hall)]
    public = load_public_key(args.public_key) if args.public_key else None
    breach = audit_ledger(ledger, kept, public)
    entries = len(ledger)
    report: dict[str, object] = {
        "hall": args.hall,
        "entries": entries,
        "checkpoints": len(kept),
        "signatures_checked": public is not None,
        "intact": breach is None,
    }
    if breach is not None:
        report |= {"first_broken_seq": breach.seq, "problem": breach.problem}
    print(json.dumps(report, ensure_ascii=False))
    return 0 if breach is None else 1


def cmd_stats(args: argparse.Namespace) -> int:
    """Print a hall's statistics per day and service, window or clerk as JSON."""
    from hallbus.hall_file import load_hall
    from scheduler.stats import hall_statistics
    from scheduler.store import Store

    hall = load_hall(args.hall_file)
    store = Store(_store_url(args), hall.id)
    store.open(migrate=False)
    try:
        today = hall_today(hall)
        first, last = args.first or today, args.last or today
        rows = hall_statistics(store.engine, hall, first, last, by=args.by)
    finally:
        store.close()
    print(json.dumps([row.as_dict() for row in rows], ensure_ascii=False, default=str))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Push a hall's rating records and case steps to the upstream platform until SIGTERM."""
    import httpx

    from hallbus.clock import SystemClock
    from hallbus.hall_file import load_hall
    from scheduler.export import DepartmentNotifier, ExportSettings, UpstreamExporter
    from scheduler.store import Store

    settings = ExportSettings.from_files(args.url, args.secret_file)
    store = Store(_store_url(args), args.hall)
    store.open()
    stop = stop_on_signal()
    clock = SystemClock()
    try:
        with httpx.Client() as client:
            notifier = None
            if args.hall_file is not None:
                hall = load_hall(args.hall_file)
                notifier = DepartmentNotifier(store, hall, settings.secret, clock, client)
            UpstreamExporter(store, settings, clock, client).run(stop, notifier=notifier)
    finally:
        store.close()
    return 0


def cmd_report_merit(args: argparse.Namespace) -> int:
    """Print a month's 服务之星, flagged clerks, derived stars and case rates as JSON."""
    from sqlalchemy import create_engine

    from hallbus.hall_file import load_hall
    from scheduler.merit import month_merit
    from scheduler.store import Store

    hall = load_hall(args.hall_file)
    month = args.month or hall_today(hall).replace(day=1)
    engine = create_engine(args.db or Store.sqlite_url(Path(f"paidui-{hall.id}.db").resolve()))
    try:
        report = month_merit(engine, hall, month)
    finally:
        engine.dispose()
    print(json.dumps(report, ensure_ascii=False, default=str))
    return 0


def cmd_report_halls(args: argparse.Namespace) -> int:
    """Print every hall's totals and all halls together as JSON (one shared database)."""
    from sqlalchemy import create_engine

    from hallbus.hall_file import load_hall
    from scheduler.stats import central_report

    halls = [load_hall(f) for f in args.hall_file]
    today = hall_today(halls[0])  # one region's halls share a day
    engine = create_engine(args.db)
    try:
        rows = central_report(engine, halls, args.first or today, args.last or today)
    finally:
        engine.dispose()
    print(json.dumps([row.as_dict() for row in rows], ensure_ascii=False))
    return 0


def _right_to_left_face(languages: tuple[str, ...]) -> Path | None:
    """The face Uyghur and Kazakh tickets are drawn with, if the kiosk speaks them and
    this machine can shape them; without, those tickets print in the first language."""
    from hallbus.fonts import FontNotFound, font_for
    from hallbus.script_lines import SHAPED_LANGUAGES, ShapingUnavailable, check_shaping

    if not SHAPED_LANGUAGES.intersection(languages):
        return None
    try:
        check_shaping()
        return font_for("ug")
    except (ShapingUnavailable, FontNotFound) as err:
        log.warning("tickets in %s print in the first language: %s", languages, err)
        return None


def cmd_kiosk(args: argparse.Namespace) -> int:
    """Run one kiosk: its printer, its touch screen (or none with --headless), until stopped."""
    from hallbus.fonts import FontNotFound, font_for
    from hallbus.hall_file import load_hall
    from hallbus.script_lines import SHAPED_LANGUAGES
    from kiosk.daemon import KioskDaemon, KioskSettings
    from kiosk.drivers import load_printer_profile, printer_driver
    from kiosk.printer import PrinterAddress, open_link
    from kiosk.ticket_layout import RasterFont

    hall = load_hall(args.hall)
    profile = load_printer_profile(args.profile)
    link = open_link(PrinterAddress.parse(args.printer), profile)
    printer = printer_driver(profile).printer(link, profile)
    languages = tuple(args.languages.split(","))
    raster_font = None
    if profile.cjk is None or SHAPED_LANGUAGES.intersection(languages):
        try:
            raster_font = RasterFont(font_for("zh"), right_to_left=_right_to_left_face(languages))
        except FontNotFound as err:
            log.error("printer %s needs a Chinese font for raster tickets: %s", profile.id, err)
            return 2
    settings = KioskSettings(
        hall_names=hall.names,
        timezone=hall.timezone,
        hotline=hall.hotline,
        max_recalls=hall.max_recalls,
        languages=languages,
        id_reader=args.id_reader or getattr(hall.device(args.device_id), "id_reader", None),
        public_url=args.public_url,
    )
    daemon = KioskDaemon(
        bus_settings(args), hall.id, args.device_id, printer, settings, raster_font=raster_font
    )
    daemon.start(timeout=None)
    try:
        if args.headless:
            wait_for_signal()
        else:
            from kiosk.ui import KioskApp

            width, height = (int(v) for v in args.size.split("x"))
            app = KioskApp(
                daemon, size=(width, height), fullscreen=args.fullscreen, languages=languages
            )
            app.start()
            app.run()
            app.stop()
    finally:
        daemon.stop()
    return 0


def cmd_printer_emulator(args: argparse.Namespace) -> int:
    """Run a ticket printer emulator on a pty or TCP port; save what it prints as PNG."""
    from hallbus.fonts import FontNotFound, font_for
    from kiosk.drivers import load_printer_profile
    from simulator.printer_emulator import PrinterEmulator

    profile = load_printer_profile(args.profile)
    emulator = PrinterEmulator(profile)
    address = (
        f"serial:{emulator.serve_pty()}"
        if args.pty
        else f"tcp:127.0.0.1:{emulator.serve_tcp(args.port)}"
    )
    print(json.dumps({"printer": address, "profile": profile.id}), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        font = font_for("zh")
    except FontNotFound:
        font = None
    saved = 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        if emulator.tickets.wait_count(saved + 1, 0.5):
            ticket = emulator.tickets.items()[saved]
            saved += 1
            path = out / f"ticket-{saved:04d}.png"
            ticket.render(profile.dots_per_line, font).save(path)
            print(
                json.dumps(
                    {"ticket": saved, "lines": ticket.lines, "png": str(path)}, ensure_ascii=False
                ),
                flush=True,
            )
    emulator.stop()
    return 0


def _id_hasher(key_file: str | None) -> IdHasher | None:
    from hallbus.identity import IdHasher, IdKeyError

    path = key_file or os.environ.get("PAIDUI_ID_KEY_FILE")
    if not path:
        log.error("no ID key: give --key-file or PAIDUI_ID_KEY_FILE (make one: paidui id-key)")
        return None
    try:
        return IdHasher.from_file(Path(path))
    except IdKeyError as err:
        log.error("%s", err)
        return None


def cmd_id_reader(args: argparse.Namespace) -> int:
    """Run one ID card reader: poll it, publish taps and its health, until stopped."""
    from hallbus.hall_file import load_hall
    from hallbus.profiles import ProfileError
    from id_reader.daemon import IdReaderDaemon, IdReaderSettings
    from id_reader.drivers import card_source_for, load_reader_profile

    hasher = _id_hasher(args.key_file)
    if hasher is None:
        return 2
    hall = load_hall(args.hall)
    try:
        source = card_source_for(load_reader_profile(args.profile), args.port)
    except (ProfileError, ValueError) as err:
        log.error("%s", err)
        return 2
    settings = IdReaderSettings(timezone=hall.timezone, elderly_age=hall.elderly_age)
    daemon = IdReaderDaemon(bus_settings(args), hall.id, args.device_id, source, hasher, settings)
    daemon.start(timeout=None)
    try:
        wait_for_signal()
    finally:
        daemon.stop()
    return 0


def cmd_id_reader_emulator(args: argparse.Namespace) -> int:
    """An emulated SAM reader on a pty; cards are placed and lifted by lines on stdin."""
    from simulator.id_cards import ELDERLY_RESIDENT, FOREIGN_PERMANENT, HMT_PERMIT, YOUNG_RESIDENT
    from simulator.id_reader_emulator import IdReaderEmulator

    cards = {
        "elderly": ELDERLY_RESIDENT,
        "young": YOUNG_RESIDENT,
        "permit": HMT_PERMIT,
        "foreign": FOREIGN_PERMANENT,
    }
    emulator = IdReaderEmulator()
    path = emulator.serve_pty(Path(args.link))
    print(json.dumps({"port": path, "cards": sorted(cards)}), flush=True)
    try:
        for line in sys.stdin:
            word = line.strip()
            if word in cards:
                emulator.place(cards[word])
            elif word == "remove":
                emulator.remove()
            elif word in ("unplug", "plug"):
                getattr(emulator, word)()
            elif word:
                print(f"say one of: {', '.join(sorted(cards))}, remove, unplug, plug", flush=True)
    finally:
        emulator.stop()
    return 0


def cmd_counter(args: argparse.Namespace) -> int:
    """Run the keypads and rating pads of one or more windows until stopped."""
    from counter_terminal.drivers import load_counter_profile
    from counter_terminal.profile import (
        BusKeypadBase,
        BusRaterProfile,
        HidKeypadProfile,
        HidPadProfile,
        TouchPadProfile,
        bus_family,
    )
    from counter_terminal.terminal import CounterSetupError, CounterTerminal
    from hallbus.hall_file import load_hall
    from hallbus.input_keys import EvdevKeySource, KeyEventSource
    from hallbus.links import SerialLink
    from hallbus.profiles import ProfileError

    hall = load_hall(args.hall)
    try:
        profiles = [load_counter_profile(name) for name in args.profile]
    except ProfileError as err:
        log.error("%s", err)
        return 2
    keypads = [p for p in profiles if isinstance(p, BusKeypadBase | HidKeypadProfile)]
    pads = [p for p in profiles if not isinstance(p, BusKeypadBase | HidKeypadProfile)]
    if len(keypads) > 1 or len(pads) > 1:
        log.error("give at most one keypad profile and one pad profile")
        return 2
    keypad = keypads[0] if keypads else None
    pad = pads[0] if pads else None
    bus_profile = next(
        (p for p in profiles if isinstance(p, BusKeypadBase | BusRaterProfile)), None
    )
    line = None
    if bus_profile is not None:
        if args.port is None:
            log.error("%s is an RS-485 device: give the line's --port", bus_profile.id)
            return 2
        line = SerialLink(args.port, bus_family(bus_profile).line)
    hid: dict[tuple[str, int], KeyEventSource] = {}
    for window in args.window:
        if isinstance(keypad, HidKeypadProfile):
            hid[("keypad", window)] = EvdevKeySource(keypad.device_name, args.keypad_input)
        if isinstance(pad, HidPadProfile):
            hid[("pad", window)] = EvdevKeySource(pad.device_name, args.pad_input)
    if isinstance(pad, TouchPadProfile) and len(args.window) != 1:
        log.error("a touchscreen pad serves one window: give one --window")
        return 2
    try:
        terminal = CounterTerminal(
            bus_settings(args),
            hall,
            args.window,
            keypad=keypad,
            pad=pad,
            line=line,
            hid_sources=hid,
        )
    except CounterSetupError as err:
        log.error("%s", err)
        return 2
    terminal.start(timeout=None)
    try:
        if isinstance(pad, TouchPadProfile):
            from counter_terminal.touch_pad import TouchPadApp

            languages = tuple(hall.languages)
            app = TouchPadApp(terminal.pads[args.window[0]], pad, args.photos, languages)
            app.start()
            app.run(fps=10)
            app.stop()
        else:
            wait_for_signal()
    finally:
        terminal.stop()
    return 0


def cmd_counter_emulator(args: argparse.Namespace) -> int:
    """Emulated keypads and raters on one RS-485 pty, at the hall file's bus addresses.

    Lines on stdin press keys: ``<address> <key> [digits]`` (e.g. ``1 login 1001``,
    ``1 call_next``) or ``<address> button <1-5>``; ``unplug`` and ``plug`` the adapter.
    """
    from counter_terminal.drivers import load_counter_profile
    from counter_terminal.keys import ClerkKey
    from counter_terminal.profile import BusKeypadBase, BusRaterProfile, bus_family
    from hallbus.hall_file import load_hall
    from hallbus.messages import DeviceKind
    from simulator.counter_bus_emulator import CounterBusEmulator

    hall = load_hall(args.hall)
    keypad, rater = load_counter_profile(args.keypad), load_counter_profile(args.rater)
    if not isinstance(keypad, BusKeypadBase) or not isinstance(rater, BusRaterProfile):
        log.error("give an RS-485 keypad profile and an RS-485 rater profile")
        return 2
    line = CounterBusEmulator(bus_family(keypad))
    for device in hall.devices:
        if device.bus_address is not None and device.kind == DeviceKind.COUNTER:
            line.add(device.bus_address, keypad)
        elif device.bus_address is not None and device.kind == DeviceKind.RATING_PAD:
            line.add(device.bus_address, rater)
    line.listeners.append(
        lambda shown: print(
            json.dumps(
                {"address": shown.address, "screen": list(shown.lines), "prompt": shown.prompt},
                ensure_ascii=False,
            ),
            flush=True,
        )
    )
    print(json.dumps({"port": line.serve_pty(Path(args.link))}), flush=True)
    try:
        for text in sys.stdin:
            words = text.split()
            try:
                if words in (["unplug"], ["plug"]):
                    getattr(line, words[0])()
                elif len(words) >= 2 and words[1] == "button":
                    line.press_button(int(words[0]), int(words[2]))
                elif len(words) >= 2:
                    line.press(int(words[0]), ClerkKey(words[1]), "".join(words[2:]))
            except (ValueError, KeyError, IndexError, TypeError) as err:
                print(f"cannot do that: {err}", flush=True)
    finally:
        line.stop()
    return 0


def cmd_id_key(args: argparse.Namespace) -> int:
    """Print a new random ID key (keep it out of the repository)."""
    from hallbus.identity import new_id_key

    print(new_id_key())
    return 0


def cmd_id_hash(args: argparse.Namespace) -> int:
    """Hash ID numbers read from stdin, one per line (for clerks' card logins in the hall file)."""
    hasher = _id_hasher(args.key_file)
    if hasher is None:
        return 2
    for line in sys.stdin:
        if line.strip():
            print(hasher.hash(line))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure latency, throughput (SQLite and PostgreSQL) and call decisions; print JSON."""
    from simulator.bench import main_bench

    return main_bench(seconds=args.seconds, postgres=not args.no_postgres, clients=args.clients)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from hallbus.hall_file import DEMO_HALL_FILE

    parser = argparse.ArgumentParser(prog="paidui", description=__doc__)
    parser.add_argument("--log-level", default="WARNING")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="plan windows for the expected arrivals")
    plan_sub = plan.add_subparsers(dest="plan_command", required=True)
    erlang = plan_sub.add_parser(
        "erlang", help="the fewest windows that meet a waiting target, by Erlang C"
    )
    erlang.add_argument("--arrivals-per-hour", type=float, required=True)
    erlang.add_argument("--service-min", type=float, required=True, help="mean service time")
    erlang.add_argument("--target-wait-min", type=float, required=True)
    erlang.add_argument(
        "--target-share", type=float, required=True, help="0.8 or 80: that share waits at most T"
    )
    erlang.set_defaults(func=cmd_plan_erlang)
    history = plan_sub.add_parser(
        "history",
        help="windows per hour for a weekday from the hall's history, checked by simulation",
    )
    history.add_argument("--hall-file", required=True, type=Path, help="the hall file")
    history.add_argument("--db", required=True, help="the hall's database URL")
    history.add_argument("--weekday", required=True, choices=WEEKDAY_NAMES)
    history.add_argument("--first", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    history.add_argument("--last", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    history.add_argument("--target-wait-min", type=float, default=10.0)
    history.add_argument("--target-share", type=float, default=0.8)
    history.add_argument(
        "--no-check", action="store_true", help="Erlang C only, without the simulation"
    )
    history.set_defaults(func=cmd_plan_history)

    gallery = sub.add_parser(
        "gallery", help="write a PNG of every screen: kiosk, LED boards, LCD board, tickets"
    )
    gallery.add_argument("--out", type=Path, default=Path("gallery"), help="folder to write")
    gallery.set_defaults(func=cmd_gallery)

    demo = sub.add_parser("demo", help="run the demo hall live in the terminal")
    demo.add_argument(
        "--for",
        dest="seconds",
        type=float,
        default=None,
        help="run this many seconds, then print a JSON summary",
    )
    demo.add_argument("--hall", type=Path, default=DEMO_HALL_FILE)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the database, tickets and board pictures (LED, LCD) here",
    )
    demo.add_argument(
        "--web-port", type=int, default=8000, help="the dashboard (another free port if taken)"
    )
    demo.add_argument(
        "--embedded-broker",
        action="store_true",
        help="use the pure-Python broker even if mosquitto is installed",
    )
    demo.set_defaults(func=cmd_demo)

    export = sub.add_parser("export", help="push ratings and case steps to the upstream platform")
    export.add_argument("--hall", required=True, help="the hall id")
    export.add_argument("--db", default=None, help="SQLAlchemy URL (default: paidui-<hall>.db)")
    export.add_argument("--url", required=True, help="the platform's endpoint (https)")
    export.add_argument(
        "--secret-file", type=Path, required=True, help="the shared secret batches are signed with"
    )
    export.add_argument(
        "--hall-file",
        type=Path,
        default=None,
        help="with department_webhooks: tell each department of its bad ratings the same day",
    )
    export.set_defaults(func=cmd_export)

    chaos = sub.add_parser(
        "chaos", help="a hall's traffic while its scheduler and broker are killed; counts"
    )
    chaos.add_argument("--seconds", type=float, default=60.0)
    chaos.add_argument("--db", default=None, help="database URL (default: SQLite, scratch)")
    chaos.add_argument("--kill-every", type=float, default=5.0, help="seconds between kills")
    chaos.set_defaults(func=cmd_chaos)

    broker = sub.add_parser("broker", help="run the MQTT broker")
    broker.add_argument("--config", default="demo", help="demo, production, or a file")
    broker.add_argument(
        "--port", type=tcp_port, default=1883, help="the first listener (production: TLS)"
    )
    broker.add_argument(
        "--local-port",
        type=tcp_port,
        default=None,
        help="production: the loopback listener for the scheduler and dashboard (1883)",
    )
    broker.add_argument("--data", default="var/broker", help="persistence folder")
    broker.add_argument(
        "--broker-dir",
        type=Path,
        default=None,
        help="production: read passwd, acl.conf and certificates here, not /etc/paidui/broker",
    )
    broker.set_defaults(func=cmd_broker)
    from paidui.broker_cli import add_broker_commands

    add_broker_commands(broker.add_subparsers(dest="broker_command"), sub)

    scheduler = sub.add_parser("scheduler", help="run the scheduler of one hall")
    scheduler.add_argument("--hall", type=Path, default=DEMO_HALL_FILE)
    scheduler.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite file)")
    scheduler.add_argument(
        "--rating-key",
        default=None,
        help="signs QR rating links (default: paidui-<hall>-rating.key)",
    )
    scheduler.add_argument(
        "--ledger-key",
        type=Path,
        default=None,
        help="signs checkpoints of the rating ledger (made by paidui ratings key)",
    )
    scheduler.add_argument(
        "--contact-key",
        type=Path,
        default=None,
        help="seals callback numbers left at the pads (default: beside the rating key)",
    )
    scheduler.add_argument(
        "--checkpoint-file",
        type=Path,
        default=None,
        help="an append-only file outside the database that keeps every checkpoint",
    )
    add_bus_options(scheduler)
    scheduler.set_defaults(func=cmd_scheduler)

    web = sub.add_parser("web", help="serve the hall dashboard, API and public rating page")
    web.add_argument("--hall", required=True, help="the hall id")
    web.add_argument(
        "--id-key-file",
        default=os.environ.get("PAIDUI_ID_KEY_FILE"),
        help="the hall's ID key (paidui id-key), for online booking; without it booking is off",
    )
    web.add_argument("--db", default=None, help="database URL (default: paidui-<hall>.db)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--public-url", default=None, help="the address tickets' QR codes open")
    web.add_argument("--device-id", default="portal", help="the dashboard's device id on the bus")
    web.add_argument("--rating-key", default=None, help="default: paidui-<hall>-rating.key")
    web.add_argument(
        "--secure-cookies", action="store_true", help="Secure cookies even if --public-url is http"
    )
    web.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For is believed (repeatable; default none)",
    )
    add_bus_options(web)
    web.set_defaults(func=cmd_web)

    accounts = sub.add_parser("accounts", help="dashboard accounts")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    clerks = sub.add_parser("clerks", help="clerks of a hall")
    clerks_sub = clerks.add_subparsers(dest="clerks_command", required=True)
    pin = clerks_sub.add_parser("pin", help="set a clerk's login PIN (from a prompt)")
    pin.add_argument("code", help="the clerk's code (工号) in the hall file")
    pin.add_argument("--hall-file", type=Path, required=True)
    pin.add_argument("--db", default=None, help="SQLAlchemy URL (default: paidui-<hall>.db)")
    pin.set_defaults(func=cmd_clerks_pin)

    add = accounts_sub.add_parser("add", help="create an account (password from a prompt)")
    add.add_argument("username")
    add.add_argument("--role", choices=["viewer", "hall_manager", "administrator"], required=True)
    add.add_argument("--hall", required=True)
    add.add_argument("--db", default=None)
    add.set_defaults(func=cmd_accounts_add)

    ratings = sub.add_parser("ratings", help="the rating ledger")
    ratings_sub = ratings.add_subparsers(dest="ratings_command", required=True)
    verify = ratings_sub.add_parser("verify", help="check the hash chain; exit 1 if broken")
    verify.add_argument("--hall", default="demo", help="hall id")
    verify.add_argument("--db", default=None, help="SQLAlchemy URL (default: paidui-<hall>.db)")
    verify.add_argument(
        "--public-key", type=Path, default=None, help="the ledger key's public half (.pub)"
    )
    verify.add_argument(
        "--witness",
        type=Path,
        action="append",
        default=[],
        help="a checkpoint file kept outside the database (repeatable)",
    )
    verify.set_defaults(func=cmd_ratings_verify)
    key = ratings_sub.add_parser("key", help="make the ledger's signing key (owner-only)")
    key.add_argument("--out", type=Path, required=True, help="the key file; .pub beside it")
    key.set_defaults(func=cmd_ratings_key)

    stats = sub.add_parser("stats", help="statistics per day and service, window or clerk")
    stats.add_argument("--hall-file", type=Path, default=DEMO_HALL_FILE)
    stats.add_argument("--hall", default="demo", help="hall id (for the default database)")
    stats.add_argument("--db", default=None, help="SQLAlchemy URL (default: paidui-<hall>.db)")
    stats.add_argument("--from", dest="first", type=date.fromisoformat, default=None)
    stats.add_argument("--to", dest="last", type=date.fromisoformat, default=None)
    stats.add_argument("--by", choices=["service", "window", "clerk"], default="service")
    stats.set_defaults(func=cmd_stats)

    report = sub.add_parser("report", help="reports across halls")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    halls = report_sub.add_parser("halls", help="each hall's totals and all halls together")
    halls.add_argument("--db", required=True, help="the database the halls share")
    halls.add_argument("--hall-file", type=Path, action="append", required=True)
    halls.add_argument("--from", dest="first", type=date.fromisoformat, default=None)
    halls.add_argument("--to", dest="last", type=date.fromisoformat, default=None)
    halls.set_defaults(func=cmd_report_halls)
    merit = report_sub.add_parser("merit", help="a month's 服务之星, flags, stars, case rates")
    merit.add_argument("--hall-file", type=Path, required=True)
    merit.add_argument("--db", default=None, help="SQLAlchemy URL (default: paidui-<hall>.db)")
    merit.add_argument(
        "--month",
        type=lambda text: date.fromisoformat(f"{text}-01"),
        default=None,
        help="YYYY-MM (default: this month in the hall's time zone)",
    )
    merit.set_defaults(func=cmd_report_merit)

    kiosk = sub.add_parser("kiosk", help="run a ticket kiosk (touch screen and printer)")
    kiosk.add_argument("--hall", type=Path, default=DEMO_HALL_FILE, help="hall YAML")
    kiosk.add_argument("--device-id", default="kiosk-1")
    kiosk.add_argument("--profile", default="xprinter-xp-80c", help="firmware_profiles/printers")
    kiosk.add_argument(
        "--printer",
        required=True,
        help="serial:/dev/ttyUSB0[?baudrate=N], tcp:HOST[:9100], usb:VVVV:PPPP or lp:/dev/usb/lp0",
    )
    kiosk.add_argument(
        "--id-reader", default=None, help="the paired ID reader (default: from the hall file)"
    )
    kiosk.add_argument("--languages", default="zh,en", help="comma-separated, first is default")
    kiosk.add_argument("--public-url", default="http://127.0.0.1:8000", help="ticket QR base")
    kiosk.add_argument("--size", default="1080x1920", help="screen size WxH")
    kiosk.add_argument("--fullscreen", action="store_true")
    kiosk.add_argument("--headless", action="store_true", help="no screen (printer and bus only)")
    add_bus_options(kiosk)
    kiosk.set_defaults(func=cmd_kiosk)

    emulator = sub.add_parser("printer-emulator", help="an ESC/POS printer on a pty or TCP port")
    emulator.add_argument("--profile", default="xprinter-xp-80c")
    emulator.add_argument("--pty", action="store_true", help="serial (pty) instead of TCP")
    emulator.add_argument("--port", type=int, default=9100)
    emulator.add_argument("--out", default="var/printed", help="folder for ticket PNGs")
    emulator.set_defaults(func=cmd_printer_emulator)

    reader = sub.add_parser("id-reader", help="run an ID card reader")
    reader.add_argument("--hall", type=Path, default=DEMO_HALL_FILE, help="hall YAML")
    reader.add_argument("--device-id", default="idr-1")
    reader.add_argument("--profile", default="sam-v-serial", help="firmware_profiles/id_readers")
    reader.add_argument(
        "--port", default=None, help="serial port, or a keyboard wedge's /dev/input/event*"
    )
    reader.add_argument("--key-file", default=None, help="the hall's ID key (paidui id-key)")
    add_bus_options(reader)
    reader.set_defaults(func=cmd_id_reader)

    reader_emulator = sub.add_parser("id-reader-emulator", help="an ID card reader on a pty")
    reader_emulator.add_argument("--link", default="var/ttyIDR0", help="path of the port link")
    reader_emulator.set_defaults(func=cmd_id_reader_emulator)

    counter = sub.add_parser("counter", help="run the caller keypads and rating pads of windows")
    counter.add_argument("--hall", type=Path, default=DEMO_HALL_FILE, help="hall YAML")
    counter.add_argument(
        "--window", type=int, action="append", required=True, help="repeat for each window"
    )
    counter.add_argument(
        "--profile",
        action="append",
        required=True,
        help="firmware_profiles/counter_devices: a keypad and/or a pad (repeat)",
    )
    counter.add_argument("--port", default=None, help="the RS-485 line, e.g. /dev/ttyUSB0")
    counter.add_argument("--keypad-input", default=None, help="a USB keypad's /dev/input/event*")
    counter.add_argument("--pad-input", default=None, help="a USB pad's /dev/input/event*")
    counter.add_argument("--photos", type=Path, default=None, help="clerk photos <code>.png")
    add_bus_options(counter)
    counter.set_defaults(func=cmd_counter)

    counter_emulator = sub.add_parser(
        "counter-emulator", help="emulated RS-485 keypads and raters on a pty"
    )
    counter_emulator.add_argument("--hall", type=Path, default=DEMO_HALL_FILE, help="hall YAML")
    counter_emulator.add_argument("--link", default="var/ttyRS485", help="path of the port link")
    counter_emulator.add_argument("--keypad", default="rs485-keypad-lcd")
    counter_emulator.add_argument("--rater", default="rs485-rater-5key")
    counter_emulator.set_defaults(func=cmd_counter_emulator)

    id_key = sub.add_parser("id-key", help="print a new random key for ID number hashes")
    id_key.set_defaults(func=cmd_id_key)
    id_hash = sub.add_parser("id-hash", help="hash ID numbers from stdin with the hall's key")
    id_hash.add_argument("--key-file", default=None)
    id_hash.set_defaults(func=cmd_id_hash)

    from paidui.board_cli import add_board_commands
    from paidui.profiles_cli import add_profile_commands

    add_profile_commands(sub)
    from paidui.install import add_install_command

    add_install_command(sub)

    add_board_commands(sub, DEMO_HALL_FILE, add_bus_options)

    bench = sub.add_parser("bench", help="measure latency and throughput, print JSON")
    bench.add_argument(
        "--seconds", type=float, default=5.0, help="length of the sustained-throughput phase"
    )
    bench.add_argument("--no-postgres", action="store_true", help="measure on SQLite only")
    bench.add_argument(
        "--clients",
        type=int,
        default=8,
        help="kiosk/keypad pairs in closed loops, as devices send (pairs/s, p50/p99, CPU)",
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``paidui`` command."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
