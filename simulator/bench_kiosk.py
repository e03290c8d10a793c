"""Kiosk figures: touch to the last ticket byte handed to the printer (not its mechanics),
and the bytes of a ticket in text and raster mode with what they take on a serial line."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hallbus.clock import SystemClock
from hallbus.fonts import font_for
from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.messages import PrintState
from hallbus.settings import BusSettings
from kiosk.daemon import KioskDaemon, KioskSettings
from kiosk.drivers import load_printer_profile
from kiosk.flow import ChooseService, Confirm, Screen
from kiosk.printer import PrinterAddress, TicketPrinter, open_link
from kiosk.ticket_layout import RasterFont, TicketText, layout_ticket
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.printer_emulator import PrinterEmulator

# A typical ticket of a busy morning.
SAMPLE_TICKET = TicketText(
    hall_name="示范政务服务中心",
    label="A001",
    service_name="社保业务",
    waiting_lines=("您前面还有 12 人", "预计等候约 25 分钟"),
    time_line="取号时间 2026-11-22 09:31",
    documents_title="请备齐材料：",
    documents=("身份证原件", "社保卡"),
    qr_url="https://hall.example.cn/t/0123456789abcdef0123456789abcdef",
    qr_caption="扫码查看进度、评价服务",
    priority_mark="老年人优先",
    rules=("叫号3次未到视为过号，请重新取号", "咨询电话：12345"),
)


def ticket_sizes() -> dict[str, Any]:
    """Bytes per ticket for every shipped profile, and seconds on the wire at 9600/115200."""
    font = RasterFont(font_for("zh"))
    sizes: dict[str, Any] = {}
    for name in ("xprinter-xp-58iih", "xprinter-xp-80c", "epson-tm-t20iii", "generic-58mm-raster"):
        profile = load_printer_profile(name)
        size = len(layout_ticket(SAMPLE_TICKET, profile, font))
        sizes[name] = {
            "mode": "text" if profile.cjk else "raster",
            "bytes": size,
            # 8N1: ten bits on the line per byte.
            "seconds_at_9600": round(size * 10 / 9600, 3),
            "seconds_at_115200": round(size * 10 / 115200, 4),
        }
    text = sizes["xprinter-xp-80c"]["bytes"]
    raster = sizes["epson-tm-t20iii"]["bytes"]
    sizes["text_share_of_raster_80mm"] = round(text / raster, 4)
    return sizes


def touch_to_last_byte(bus: BusSettings, tickets: int, scheme: str) -> dict[str, float]:
    """Tickets taken by touch on a real kiosk daemon printing to the emulator."""
    hall = (
        load_hall(DEMO_HALL_FILE)
        .without_flood_limits()
        .model_copy(update={"id": f"bench-kiosk-{scheme}", "require_open_window": False})
    )
    profile = load_printer_profile("xprinter-xp-80c")
    emulator = PrinterEmulator(profile)
    if scheme == "serial":
        address = f"serial:{emulator.serve_pty()}?baudrate=115200"
    else:
        address = f"tcp:127.0.0.1:{emulator.serve_tcp()}"
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Store.sqlite_url(Path(scratch) / "bench.db"), hall.id)
        service = SchedulerService(hall, store, bus, client_id=f"scheduler-{hall.id}")
        kiosk = KioskDaemon(
            bus,
            hall.id,
            "kiosk-1",
            TicketPrinter(open_link(PrinterAddress.parse(address), profile), profile),
            KioskSettings(hall_names=hall.names),
            clock=SystemClock(),
        )
        service.start()
        kiosk.start()
        try:
            if kiosk.wait_for(lambda v: v.screen is Screen.MENU and len(v.menu) == 3, 15) is None:
                raise RuntimeError("kiosk never showed the menu")
            for _ in range(tickets):
                kiosk.touch(ChooseService("social"))
                kiosk.touch(Confirm())
                view = kiosk.wait_for(lambda v: v.settled, 15)
                if view is None or view.issued is None:
                    raise RuntimeError(f"ticket not issued: {kiosk.view()}")
                if view.issued.print_state is not PrintState.PRINTED:
                    raise RuntimeError("ticket not printed")
                kiosk.touch(Confirm())
        finally:
            kiosk.stop()
            service.stop()
            emulator.stop()
    replies = [t.touch_to_reply_s * 1000 for t in kiosk.timings]
    last_bytes = [t.touch_to_last_byte_s * 1000 for t in kiosk.timings if t.touch_to_last_byte_s]
    return {
        "tickets": len(kiosk.timings),
        "touch_to_reply_p50_ms": round(statistics.median(replies), 2),
        "touch_to_last_byte_p50_ms": round(statistics.median(last_bytes), 2),
        "touch_to_last_byte_max_ms": round(max(last_bytes), 2),
    }


def run_kiosk_bench(bus: BusSettings, tickets: int = 40) -> dict[str, Any]:
    """Every kiosk figure, as one JSON-ready mapping."""
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "ticket_bytes": ticket_sizes(),
        "serial_pty_115200": touch_to_last_byte(bus, tickets, "serial"),
        "tcp_9100": touch_to_last_byte(bus, tickets, "tcp"),
    }
    figures["bench_s"] = round(time.perf_counter() - started, 1)
    return figures
