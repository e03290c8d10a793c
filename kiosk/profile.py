"""What a ticket printer model can do, read from its profile in ``firmware_profiles/printers``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CjkText(_Strict):
    """The printer's built-in Chinese font: how to switch to it and which encoding it reads."""

    encoding: Literal["gb18030", "gbk", "gb2312"] = "gb18030"
    enter: str = "1c26"  # FS & : select Chinese (Kanji) character mode
    leave: str = "1c2e"  # FS . : cancel it

    @property
    def enter_bytes(self) -> bytes:
        """The command that selects Chinese mode."""
        return bytes.fromhex(self.enter)

    @property
    def leave_bytes(self) -> bytes:
        """The command that cancels Chinese mode."""
        return bytes.fromhex(self.leave)


class UsbIds(_Strict):
    """USB vendor and product id, for ``usb:`` printers."""

    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)


class PrinterProfile(_Strict):
    """Capabilities of one printer model; code asks these, never the model name."""

    id: str
    type: str = "escpos"  # the printer driver that serves it (kiosk/drivers.py)
    vendor: str
    model: str
    paper_width_mm: Literal[58, 80]
    dots_per_line: int = Field(ge=200, le=832)  # printable width at 203 dpi
    chars_per_line: int = Field(ge=16, le=64)  # font A (12 x 24 dots), ASCII columns
    cjk: CjkText | None = None  # None: no Chinese font, Chinese goes out as raster images
    native_qr: bool = False  # GS ( k QR codes; otherwise the QR is sent as an image
    qr_module_dots: int = Field(default=6, ge=1, le=16)
    cut: Literal["full", "partial", "none"] = "none"
    feed_before_cut: int = Field(default=4, ge=0, le=20)  # lines from print head to cutter
    realtime_status: bool = True  # answers DLE EOT
    baudrate: int = 9600  # serial models: the factory setting
    usb: UsbIds | None = None
    usb_timeout_ms: int = Field(default=3000, ge=100)  # python-escpos's default is none

    @model_validator(mode="after")
    def _columns_fit(self) -> PrinterProfile:
        if self.chars_per_line * 12 > self.dots_per_line:
            raise ValueError(
                f"{self.chars_per_line} columns of 12 dots exceed {self.dots_per_line} dots"
            )
        return self

    @property
    def has_cutter(self) -> bool:
        """Whether the printer cuts the ticket off."""
        return self.cut != "none"
