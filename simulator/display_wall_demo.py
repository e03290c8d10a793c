"""The demo hall's display wall: the real LED wall daemon on the emulated LED line, the LCD
hall board drawn headless, and the announcer logging what it would say."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pygame

from display_wall.hall_board import HallBoard
from display_wall.led_wall import LedWall, led_boards, line_settings
from display_wall.profile import load_lcd_layout
from display_wall.voice import Announcer
from hallbus.hall_file import HallConfig
from hallbus.links import SerialLink
from hallbus.messages import DeviceKind
from hallbus.settings import BusSettings
from simulator.led_line_emulator import LedLineEmulator, render_board

DEMO_LCD_LAYOUT = "lcd-1080p"
LCD_FPS = 4


class DemoDisplayWall:
    """Every board of the hall file, emulated where it is hardware, run by the real daemons."""

    def __init__(self, hall: HallConfig, settings: BusSettings, data_dir: Path) -> None:
        self.hall = hall
        self.data_dir = data_dir
        self.specs = led_boards(hall)
        self.line = LedLineEmulator()
        for spec in self.specs:
            self.line.add(spec.address, spec.profile)
        port = self.line.serve_pty(data_dir / "ttyLED")
        self.wall = LedWall(
            settings, hall.id, self.specs, SerialLink(port, line_settings(self.specs))
        )
        lcd = next(
            (d for d in hall.devices if d.kind == DeviceKind.HALL_BOARD and d.bus_address is None),
            None,
        )
        self.lcd = (
            HallBoard(
                settings,
                hall.id,
                lcd.id,
                load_lcd_layout(DEMO_LCD_LAYOUT),
                timezone=hall.timezone,
                names=hall.names,
                fullscreen=False,
            )
            if lcd is not None
            else None
        )
        voice = next((d for d in hall.devices if d.kind == DeviceKind.VOICE), None)
        self.voice = (
            Announcer(settings, hall.id, voice.id, cache=data_dir / "voice", audio=False)
            if voice is not None
            else None
        )
        self._stop = threading.Event()
        self._lcd_thread: threading.Thread | None = None

    def window_text(self, window: int) -> str:
        """What the LED board above ``window`` shows now."""
        spec = next((s for s in self.specs if s.window == window), None)
        if spec is None:
            return ""
        return self.line.board(spec.address, bx5=spec.profile.type == "bx5").text

    def start(self) -> None:
        """Start the LED wall, the LCD board's frames and the announcer."""
        self.wall.start()
        if self.voice is not None:
            self.voice.start()
        if self.lcd is not None:
            self._lcd_thread = threading.Thread(target=self._draw_lcd, name="lcd", daemon=True)
            self._lcd_thread.start()

    def _draw_lcd(self) -> None:
        assert self.lcd is not None
        # The demo lives in a terminal: the LCD board draws off screen and is saved as PNG.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self.lcd.start()
        while not self._stop.wait(1 / LCD_FPS):
            self.lcd.screen.step()
        self.lcd.screen.save(self.data_dir / "lcd-hall-board.png")
        self.lcd.stop()

    def stop(self) -> dict[str, int]:
        """Stop everything; save each board's picture; what the wall showed and said."""
        self._stop.set()
        if self._lcd_thread is not None:
            self._lcd_thread.join(timeout=10)
        for board in self.line.boards():
            path = self.data_dir / f"led-{board.profile.type}-{board.address}.png"
            pygame.image.save(render_board(board), str(path))
        calls_shown = {
            s.text
            for s in self.line.shown.items()
            # A call is the one state whose text asks a number up (请A001号 ...).
            if any(w.address == s.address for w in self.specs if w.window)
            and s.text.startswith("请")
        }
        lcd_view = self.lcd.screen.last_view if self.lcd is not None else None
        summary = {
            "led_calls_shown": len(calls_shown),
            "lcd_calls": len(lcd_view.calls) if lcd_view is not None else 0,
            "announced": self.voice.worker.announced if self.voice is not None else 0,
        }
        if self.voice is not None:
            self.voice.stop()
        self.wall.stop()
        self.line.stop()
        return summary
