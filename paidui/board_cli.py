"""``paidui board ...``: the display wall daemons and the LED line emulator."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from hallbus.settings import BusSettings

log = logging.getLogger("paidui.board")

EMULATOR_WORDS = "say: silent N, answer N, drop N, corrupt N, unplug, plug, save"
BusOptions = Callable[[argparse.ArgumentParser], None]
BusFromArgs = Callable[[argparse.Namespace], BusSettings]


def cmd_board_led(args: argparse.Namespace) -> int:
    """Run every LED board of one RS-485 line until stopped."""
    from display_wall.led_wall import LedWall, WallSetupError, led_boards, line_settings
    from hallbus.hall_file import load_hall
    from hallbus.links import SerialLink
    from paidui.runtime import bus_settings, wait_for_signal

    hall = load_hall(args.hall)
    try:
        specs = led_boards(
            hall, default_profile=args.profile, only=set(args.board) if args.board else None
        )
        wall = LedWall(
            bus_settings(args), hall.id, specs, SerialLink(args.port, line_settings(specs))
        )
    except WallSetupError as err:
        log.error("%s", err)
        return 2
    wall.start(timeout=None)
    try:
        wait_for_signal()
    finally:
        wall.stop()
    return 0


def cmd_board_lcd(args: argparse.Namespace) -> int:
    """Run the LCD hall board full screen (or save one frame with ``--screenshot``)."""
    from display_wall.hall_board import HallBoard
    from display_wall.profile import load_lcd_layout
    from hallbus.hall_file import load_hall
    from hallbus.profiles import ProfileError
    from paidui.runtime import bus_settings

    hall = load_hall(args.hall)
    try:
        layout = load_lcd_layout(args.layout)
    except ProfileError as err:
        log.error("%s", err)
        return 2
    board = HallBoard(
        bus_settings(args),
        hall.id,
        args.device_id,
        layout,
        timezone=hall.timezone,
        names=hall.names,
        language=args.language,
        fullscreen=not args.windowed and args.screenshot is None,
    )
    board.start(timeout=None if args.screenshot is None else 10.0)
    try:
        if args.screenshot is not None:
            board.device.wait_for(lambda p: p.hall is not None, 5.0)
            board.screen.step()
            board.screen.save(args.screenshot)
            print(json.dumps({"screenshot": str(args.screenshot)}), flush=True)
        else:
            board.screen.run(fps=20)
    finally:
        board.stop()
    return 0


def cmd_board_voice(args: argparse.Namespace) -> int:
    """Say every call in the hall until stopped."""
    from display_wall.voice import Announcer
    from hallbus.hall_file import load_hall
    from paidui.runtime import bus_settings, wait_for_signal

    hall = load_hall(args.hall)
    announcer = Announcer(
        bus_settings(args),
        hall.id,
        args.device_id,
        cache=args.cache,
        recorded=args.clips,
        audio=not args.no_audio,
        repeats=args.repeats,
    )
    announcer.start(timeout=None)
    try:
        wait_for_signal()
    finally:
        announcer.stop()
    return 0


def cmd_board_emulator(args: argparse.Namespace) -> int:
    """Emulated LED boards on one RS-485 pty at the hall file's addresses.

    Prints what each board shows as JSON lines. Stdin: ``silent N``, ``answer N``,
    ``drop N``, ``corrupt N`` (board address N), ``unplug``, ``plug``, ``save`` (PNGs).
    """
    import pygame

    from display_wall.led_wall import WallSetupError, led_boards
    from hallbus.hall_file import load_hall
    from simulator.led_line_emulator import LedLineEmulator, render_board

    hall = load_hall(args.hall)
    try:
        specs = led_boards(hall, default_profile=args.profile)
    except WallSetupError as err:
        log.error("%s", err)
        return 2
    line = LedLineEmulator()
    for spec in specs:
        line.add(spec.address, spec.profile)
    line.listeners.append(
        lambda shown: print(
            json.dumps(
                {"address": shown.address, "pages": shown.pages, "colour": shown.colour},
                ensure_ascii=False,
            ),
            flush=True,
        )
    )
    print(json.dumps({"port": line.serve_pty(Path(args.link))}), flush=True)
    faults = line.faults
    try:
        for text in sys.stdin:
            words = text.split()
            try:
                if words in (["unplug"], ["plug"]):
                    getattr(line, words[0])()
                elif words == ["save"]:
                    args.images.mkdir(parents=True, exist_ok=True)
                    for board in line.boards():
                        path = args.images / f"led-{board.profile.type}-{board.address}.png"
                        pygame.image.save(render_board(board), str(path))
                        print(json.dumps({"saved": str(path)}), flush=True)
                elif len(words) == 2 and words[0] == "silent":
                    faults.silent.add(int(words[1]))
                elif len(words) == 2 and words[0] == "answer":
                    faults.silent.discard(int(words[1]))
                elif len(words) == 2 and words[0] == "drop":
                    faults.drop_answers[int(words[1])] = 1
                elif len(words) == 2 and words[0] == "corrupt":
                    faults.corrupt_answers[int(words[1])] = 1
                elif words:
                    print(
                        "say: silent N, answer N, drop N, corrupt N, unplug, plug, save", flush=True
                    )
            except (ValueError, OSError) as err:
                print(f"cannot do that: {err}", flush=True)
    finally:
        line.stop()
    return 0


def add_board_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    hall_file: Path,
    bus_options: BusOptions,
) -> None:
    """``paidui board led|lcd|voice|emulator``."""
    board = sub.add_parser("board", help="the display wall: LED boards, LCD hall board, voice")
    kinds = board.add_subparsers(dest="board_command", required=True)

    led = kinds.add_parser("led", help="run the LED boards of one RS-485 line")
    led.add_argument("--hall", type=Path, default=hall_file, help="hall YAML")
    led.add_argument("--port", required=True, help="the RS-485 line, e.g. /dev/ttyUSB1")
    led.add_argument("--board", action="append", help="only these board ids (repeat)")
    led.add_argument("--profile", default=None, help="model of boards the hall file leaves open")
    bus_options(led)
    led.set_defaults(func=cmd_board_led)

    lcd = kinds.add_parser("lcd", help="run the LCD hall board")
    lcd.add_argument("--hall", type=Path, default=hall_file, help="hall YAML")
    lcd.add_argument("--device-id", default="hallboard-1")
    lcd.add_argument("--layout", default="lcd-1080p", help="firmware_profiles/hall_boards")
    lcd.add_argument("--language", default=None, help="one language (default: take turns)")
    lcd.add_argument("--windowed", action="store_true", help="a window, not full screen")
    lcd.add_argument("--screenshot", type=Path, default=None, help="save one frame and exit")
    bus_options(lcd)
    lcd.set_defaults(func=cmd_board_lcd)

    voice = kinds.add_parser("voice", help="say every call on the loudspeaker")
    voice.add_argument("--hall", type=Path, default=hall_file, help="hall YAML")
    voice.add_argument("--device-id", default="voice-1")
    voice.add_argument("--clips", type=Path, default=None, help="recorded <lang>/<word>.wav")
    voice.add_argument("--cache", type=Path, default=Path("var/voice-clips"))
    voice.add_argument("--repeats", type=int, default=2, help="times each call is said")
    voice.add_argument("--no-audio", action="store_true", help="log what would be said")
    bus_options(voice)
    voice.set_defaults(func=cmd_board_voice)

    emulator = kinds.add_parser("emulator", help="emulated LED boards on a pty")
    emulator.add_argument("--hall", type=Path, default=hall_file, help="hall YAML")
    emulator.add_argument("--link", default="var/ttyLED", help="path of the port link")
    emulator.add_argument("--profile", default=None)
    emulator.add_argument("--images", type=Path, default=Path("var/led-boards"))
    emulator.set_defaults(func=cmd_board_emulator)
