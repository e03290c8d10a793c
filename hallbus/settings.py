"""How a daemon reaches the broker."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CredentialError(ValueError):
    """A credentials file is missing or unreadable; the message names it."""


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
    # TLS: the hall CA that signed the broker's certificate turns TLS on; a client
    # certificate and key where the broker's listener requires one (its CN is the identity).
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Per-identity credentials made by `paidui devices provision`: <identity>.password,
    # <identity>.crt, <identity>.key. A daemon that runs several devices (a counter line,
    # an LED wall) logs each one in as itself, so the broker's ACL holds per device.
    credentials_dir: Path | None = None

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.ca_file is not None

    def for_identity(self, identity: str) -> BusSettings:
        """These settings with ``identity``'s own credentials from ``credentials_dir``."""
        if self.credentials_dir is None:
            return self
        folder = self.credentials_dir
        password_file = folder / f"{identity}.password"
        cert, key = folder / f"{identity}.crt", folder / f"{identity}.key"
        if not password_file.is_file() and not cert.is_file():
            raise CredentialError(
                f"no credentials for {identity} in {folder}: run paidui devices provision"
            )
        update: dict[str, object] = {"username": identity, "password": None}
        if password_file.is_file():
            try:
                secret = password_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise CredentialError(f"cannot read {password_file}: {err}") from err
            update["password"] = SecretStr(secret)
        if cert.is_file() and key.is_file():
            update |= {"cert_file": cert, "key_file": key}
        return self.model_copy(update=update)
