"""Broker credentials of a hall: its own CA, the broker's certificate, device identities.

Everything lives in one broker folder (``/etc/paidui/broker`` in a hall):

- ``ca.crt`` / ``ca.key``: the hall's CA; the key never leaves this folder (0600);
- ``broker.crt`` / ``broker.key``: the broker's TLS certificate for its host names;
- ``passwd``: mosquitto's password file (PBKDF2-SHA512, the ``$7$`` format of
  ``mosquitto_passwd``), one entry per identity;
- ``acl.conf``: written from the hall files by ``paidui.acl``.

A device's bundle (copied to the machine that runs its daemon) holds ``ca.crt`` and
``<identity>.password``, ``<identity>.crt``, ``<identity>.key``; ``BusSettings``
reads exactly these names from its ``credentials_dir``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# mosquitto_passwd (2.x) writes $7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64> with 101
# iterations and a 12-byte salt; the broker reads any iteration count.
_PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12
CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers and most TLS stacks accept for a leaf certificate


class CredentialsError(RuntimeError):
    """The broker folder is missing its CA, or an identity cannot be made."""


def mosquitto_password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A password file hash exactly as ``mosquitto_passwd`` writes it."""
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${_PBKDF2_ITERATIONS}${encoded_salt}${base64.b64encode(digest).decode()}"


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by its owner only, from the first byte on, all or nothing.

    Written beside the file, flushed to disk and renamed over it: a crash mid-write of the
    broker's password file must not leave every identity without its entry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    path.chmod(0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, hall: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"paidui hall {hall}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True, slots=True)
class Identity:
    """What a provisioned identity's daemon needs; the password is shown once, never logged."""

    identity: str
    password: str
    cert_file: Path | None
    key_file: Path | None


class BrokerFolder:
    """The CA, broker certificate, password file and ACL of one broker."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def ca_cert(self) -> Path:
        """The hall CA's certificate (public; every client gets a copy)."""
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The hall CA's private key."""
        return self.folder / "ca.key"

    @property
    def passwd(self) -> Path:
        """mosquitto's password file."""
        return self.folder / "passwd"

    @property
    def acl(self) -> Path:
        """mosquitto's ACL file."""
        return self.folder / "acl.conf"

    def init(self, hall_name: str, broker_hosts: list[str], *, now: dt.datetime) -> bool:
        """Make the CA and the broker's certificate unless they exist; True if made now."""
        if self.ca_cert.exists():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(f"paidui {hall_name} CA", hall_name)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.ca_key, _key_pem(key))
        self.ca_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._issue(
            "broker",
            hall_name,
            self.folder / "broker.crt",
            self.folder / "broker.key",
            now=now,
            server_hosts=broker_hosts,
        )
        self.passwd.touch(mode=0o600, exist_ok=True)
        return True

    def _issue(
        self,
        common_name: str,
        hall_name: str,
        cert_path: Path,
        key_path: Path,
        *,
        now: dt.datetime,
        server_hosts: list[str] | None = None,
    ) -> None:
        if not self.ca_key.exists():
            raise CredentialsError(f"no hall CA in {self.folder}: run paidui broker init first")
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise CredentialsError(f"{self.ca_key} is not the CA key this tool made")
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_hosts else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, hall_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if server_hosts:
            names: list[x509.GeneralName] = []
            for host in server_hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(ca_key, hashes.SHA256())
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    def set_password(self, identity: str, password: str) -> None:
        """Add or replace ``identity``'s entry in the password file."""
        entries = [
            line
            for line in (self.passwd.read_text().splitlines() if self.passwd.exists() else [])
            if line and line.split(":", 1)[0] != identity
        ]
        entries.append(f"{identity}:{mosquitto_password_hash(password)}")
        _write_private(self.passwd, ("\n".join(entries) + "\n").encode())

    def identities(self) -> list[str]:
        """The identities the password file knows."""
        if not self.passwd.exists():
            return []
        return [line.split(":", 1)[0] for line in self.passwd.read_text().splitlines() if line]

    def provision(
        self,
        identity: str,
        hall_name: str,
        bundle: Path,
        *,
        now: dt.datetime,
        certificate: bool = True,
    ) -> Identity:
        """A new password (and certificate) for ``identity``, written to ``bundle``."""
        password = secrets.token_urlsafe(24)
        self.set_password(identity, password)
        bundle.mkdir(parents=True, exist_ok=True)
        _write_private(bundle / f"{identity}.password", (password + "\n").encode())
        (bundle / "ca.crt").write_bytes(self.ca_cert.read_bytes())
        cert_file = key_file = None
        if certificate:
            cert_file, key_file = bundle / f"{identity}.crt", bundle / f"{identity}.key"
            self._issue(identity, hall_name, cert_file, key_file, now=now)
        return Identity(identity, password, cert_file, key_file)
