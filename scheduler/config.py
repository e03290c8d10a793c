"""Hall configuration: services, windows and devices, loaded from YAML and validated."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hallbus.messages import DeviceKind
from hallbus.topics import valid_id

DEMO_HALL_FILE = Path(__file__).with_name("halls") / "demo.yaml"

# Devices paired with one window; the others serve the whole hall.
WINDOW_DEVICES = {DeviceKind.COUNTER, DeviceKind.RATING_PAD, DeviceKind.WINDOW_BOARD}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceConfig(_Strict):
    """A service (业务) citizens take tickets for."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    prefix: str = Field(pattern=r"^[A-Z]$")
    names: dict[str, str]

    @field_validator("names")
    @classmethod
    def _has_chinese_name(cls, names: dict[str, str]) -> dict[str, str]:
        if not names.get("zh"):
            raise ValueError("every service needs a Chinese name under 'zh'")
        return names


class WindowConfig(_Strict):
    """A counter window (窗口) and the services it handles."""

    number: int = Field(ge=1, le=999)
    services: list[str] = Field(min_length=1)


class DeviceConfig(_Strict):
    """A device known to the scheduler; its id is its MQTT client id."""

    id: str
    kind: DeviceKind
    window: int | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not valid_id(value):
            raise ValueError(f"device id {value!r} must be letters, digits, '.', '_' or '-'")
        return value


class HallConfig(_Strict):
    """One service hall."""

    id: str
    names: dict[str, str]
    timezone: str = "Asia/Shanghai"
    rating_timeout_s: float = Field(default=30.0, gt=0)
    recent_calls: int = Field(default=6, ge=1, le=50)
    services: list[ServiceConfig] = Field(min_length=1)
    windows: list[WindowConfig] = Field(min_length=1)
    devices: list[DeviceConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HallConfig:
        if not valid_id(self.id):
            raise ValueError(f"hall id {self.id!r} must be letters, digits, '.', '_' or '-'")
        codes = [s.code for s in self.services]
        prefixes = [s.prefix for s in self.services]
        if len(set(codes)) != len(codes) or len(set(prefixes)) != len(prefixes):
            raise ValueError("service codes and ticket prefixes must be unique")
        numbers = [w.number for w in self.windows]
        if len(set(numbers)) != len(numbers):
            raise ValueError("window numbers must be unique")
        for window in self.windows:
            unknown = set(window.services) - set(codes)
            if unknown:
                raise ValueError(f"window {window.number} handles unknown services {unknown}")
        ids = [d.id for d in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError("device ids must be unique")
        for device in self.devices:
            if device.kind in WINDOW_DEVICES and device.window not in numbers:
                raise ValueError(f"device {device.id} ({device.kind}) needs an existing window")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The hall's time zone, for the ticket day."""
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> ServiceConfig | None:
        """The service with this code, if any."""
        return next((s for s in self.services if s.code == code), None)

    def device(self, device_id: str) -> DeviceConfig | None:
        """The device with this id, if any."""
        return next((d for d in self.devices if d.id == device_id), None)

    def devices_of_window(self, window: int, kind: DeviceKind) -> list[DeviceConfig]:
        """The devices of one kind paired with a window."""
        return [d for d in self.devices if d.window == window and d.kind == kind]


def load_hall(path: Path) -> HallConfig:
    """Read and validate a hall YAML file."""
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return HallConfig.model_validate(raw)
