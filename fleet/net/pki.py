"""A test PKI for security profiles 2 and 3, made without openssl: a CA, a CSMS (server)
certificate and station (client) certificates whose subject CN is the station id, as
OCPP 2.0.1 binds a client certificate to its station (A00.FR.405).

For tests and load tests against a CSMS you run; not for production. Keys are EC P-256
(quick to make by the thousand), written owner-readable only. The layout of a directory:

- ``ca.pem``, ``ca.key``: the CA (reused when present, so stations can be added later);
- ``csms.pem``, ``csms.key``: the CSMS's certificate for ``localhost``, ``127.0.0.1``,
  ``::1`` and the names given, signed by the CA;
- ``stations/<id>.pem``, ``stations/<id>.key``: each station's client certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_DAYS", "Issued", "PkiError", "issue"]

#: Days the certificates are valid.
DEFAULT_DAYS = 365
#: The names every CSMS certificate carries (a CSMS on this machine).
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class PkiError(ValueError):
    """The directory or a file in it cannot be used (the message says which and why)."""


class Issued(msgspec.Struct, frozen=True):
    """What :func:`issue` wrote (paths as strings) and what it found already there."""

    ca_cert: str
    ca_key: str
    csms_cert: str
    csms_key: str
    stations: dict[str, tuple[str, str]]
    created: list[str]
    kept: list[str]


def issue(directory: str | Path, station_ids: list[str], *, names: tuple[str, ...] = (),
          days: int = DEFAULT_DAYS) -> Issued:
    """Make (or complete) the test PKI in ``directory``: the CA and the CSMS certificate
    unless present, and a certificate for each of ``station_ids`` that has none.

    Raises:
        PkiError: the directory cannot be created or written, a station id cannot be a file
            name, or the CA there cannot be read.
    """
    root = Path(directory)
    for station_id in station_ids:
        if not station_id or "/" in station_id or station_id in (".", "..") or "\x00" in station_id:
            raise PkiError(f"station id {station_id!r} cannot name a certificate file")
    try:
        (root / "stations").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PkiError(f"cannot create {root / 'stations'}: {exc.strerror or exc}") from None
    created: list[str] = []
    kept: list[str] = []
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)  # (clocks differ a little)
    until = now + datetime.timedelta(days=days)
    ca_cert_path, ca_key_path = root / "ca.pem", root / "ca.key"
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert, ca_key = _read_ca(ca_cert_path, ca_key_path)
        kept.append(str(ca_cert_path))
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet test CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleet (testing only)")])
        ca_cert = (
            _builder(name, name, ca_key.public_key(), now, until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write(ca_cert_path, ca_key_path, ca_cert, ca_key)
        created.append(str(ca_cert_path))
    csms_cert_path, csms_key_path = root / "csms.pem", root / "csms.key"
    if csms_cert_path.exists() and csms_key_path.exists() and not names:
        kept.append(str(csms_cert_path))
    else:
        sans: list[x509.GeneralName] = []
        for host in (*LOCAL_NAMES, *names):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert, key = _leaf(ca_cert, ca_key, names[0] if names else "localhost", now, until,
                          ExtendedKeyUsageOID.SERVER_AUTH, sans)
        _write(csms_cert_path, csms_key_path, cert, key)
        created.append(str(csms_cert_path))
    stations: dict[str, tuple[str, str]] = {}
    for station_id in station_ids:
        cert_path, key_path = root / "stations" / f"{station_id}.pem", root / "stations" / f"{station_id}.key"
        stations[station_id] = (str(cert_path), str(key_path))
        if cert_path.exists() and key_path.exists():
            kept.append(str(cert_path))
            continue
        cert, key = _leaf(ca_cert, ca_key, station_id, now, until, ExtendedKeyUsageOID.CLIENT_AUTH, [])
        _write(cert_path, key_path, cert, key)
        created.append(str(cert_path))
    return Issued(str(ca_cert_path), str(ca_key_path), str(csms_cert_path), str(csms_key_path), stations,
                  created, kept)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             start: datetime.datetime, until: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(until))


def _leaf(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, common_name: str,
          start: datetime.datetime, until: datetime.datetime, usage: x509.ObjectIdentifier,
          sans: list[x509.GeneralName]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), ca_cert.subject,
                 key.public_key(), start, until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    try:
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise PkiError(f"cannot write {cert_path.parent}: {exc.strerror or exc}") from None


def _read_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"the CA in {cert_path.parent} cannot be read ({exc}); remove ca.pem and ca.key to make "
                       "a new one") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{key_path}: not an EC key made by fleet certs; remove ca.pem and ca.key to make a new one")
    return cert, key
