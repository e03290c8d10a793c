"""paidui gallery writes a picture of every screen, from the real drawing code."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from display_wall.drivers import led_profile_names
from display_wall.profile import lcd_layout_names
from kiosk.drivers import printer_profile_names
from paidui.cli import main


def test_the_gallery_has_every_screen_of_every_kind(tmp_path: Path) -> None:
    assert main(["gallery", "--out", str(tmp_path)]) == 0
    pictures = sorted(tmp_path.glob("*.png"))
    names = {p.stem for p in pictures}
    # Six kiosk screens, three languages, normal and large print.
    assert len([n for n in names if n.startswith("kiosk-")]) == 7 * 4 * 2
    assert {
        f"lcd-{layout}-{lang}" for layout in lcd_layout_names() for lang in ("zh", "en", "ug", "kk")
    } <= names
    assert {f"ticket-{printer}" for printer in printer_profile_names()} <= names
    assert all(any(n.startswith(f"led-{board}-") for n in names) for board in led_profile_names())
    phases = ("idle", "rating", "reason", "contact", "thanks")
    for suffix in ("", "-ug", "-kk"):
        assert {f"pad-{phase}{suffix}" for phase in phases} <= names
    for picture in pictures:
        with Image.open(picture) as image:
            # Something was drawn: more than one colour on every picture.
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [0, 0]) > 1, picture
