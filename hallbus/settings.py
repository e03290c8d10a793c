"""How a daemon reaches the broker."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class BusSettings(BaseModel):
    """Broker connection settings shared by every daemon."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    # "5" with mosquitto; the embedded demo broker speaks only 3.1.1.
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive_s: int = Field(default=15, ge=5, le=600)
    # A persistent session makes the broker keep QoS 1 messages while a daemon restarts.
    session_expiry_s: int = Field(default=3600, ge=0)
    reconnect_min_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
