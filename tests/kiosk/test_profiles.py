"""Every shipped printer profile loads; inheritance merges; bad profiles name their problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallbus.profiles import ProfileError
from kiosk.drivers import load_printer_profile, printer_profile_names


@pytest.mark.parametrize("name", printer_profile_names())
def test_every_shipped_profile_loads(name: str) -> None:
    profile = load_printer_profile(name)
    assert profile.id == name
    assert profile.realtime_status  # inherited from the 203 dpi base
    assert profile.usb_timeout_ms > 0  # never python-escpos's endless default


def test_bases_are_not_models() -> None:
    assert "_escpos_203dpi" not in printer_profile_names()


MODEL = (
    "vendor: X\nmodel: a\npaper_width_mm: {width}\ndots_per_line: 384\nchars_per_line: {columns}\n"
)


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_a_family_profile_overrides_its_parent(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base",
        "vendor: X\nmodel: base\npaper_width_mm: 58\ndots_per_line: 384\n"
        "chars_per_line: 32\ncjk: {encoding: gbk}\n",
    )
    write(tmp_path, "child", "inherits: base\nmodel: child\ncjk: {leave: '1c2e'}\ncut: full\n")
    child = load_printer_profile("child", tmp_path)
    assert (child.vendor, child.model, child.cut) == ("X", "child", "full")
    assert child.cjk is not None and child.cjk.encoding == "gbk"  # nested keys merge


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a": "inherits: b\n", "b": "inherits: a\n"}, "loops"),
        ({"a": "inherits: missing\n"}, "no profile 'missing'"),
        ({"a": "- just\n- a list\n"}, "mapping"),
        (
            {"a": MODEL.format(width=76, columns=32)},
            "paper_width_mm",
        ),
        (
            {"a": MODEL.format(width=58, columns=48)},
            "exceed",
        ),
        (
            {"a": MODEL.format(width=58, columns=32) + "colour: red\n"},
            "colour",
        ),
    ],
)
def test_bad_profiles_say_what_is_wrong(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(ProfileError, match=message):
        load_printer_profile("a", tmp_path)
