"""OCPP 2.0.1, block A/M Security and certificates: certificates are stored as text (their hash
data derived from a SHA-256 of the PEM, not parsed X.509); the CSR of SignCertificate is a
placeholder.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    CertificateHashData,
    CertificateHashDataChain,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatus,
    GetCertificateIdUse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatus,
    HashAlgorithm,
    InstallCertificateRequest,
    InstallCertificateResponse,
    InstallCertificateStatus,
)
from .common import _info

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["certificate_signed", "delete_certificate", "get_installed_certificate_ids", "install_certificate"]


def _fake_csr(station_id: str) -> str:
    body = hashlib.sha256(station_id.encode()).hexdigest()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n"


def _hash_data(pem: str) -> CertificateHashData:
    digest = hashlib.sha256(pem.strip().encode()).hexdigest()
    key_digest = hashlib.sha256((pem.strip() + "#key").encode()).hexdigest()
    return CertificateHashData(hash_algorithm=HashAlgorithm.SHA256, issuer_name_hash=digest,
                               issuer_key_hash=key_digest, serial_number=digest[:20])


def _is_pem(text: str) -> bool:
    return "-----BEGIN CERTIFICATE-----" in text and "-----END CERTIFICATE-----" in text


def install_certificate(st: V201Dialect, request: InstallCertificateRequest) -> InstallCertificateResponse:
    if not _is_pem(request.certificate):
        return st.messages.InstallCertificateResponse(status=InstallCertificateStatus.REJECTED, status_info=_info("InvalidFormat"))
    hash_data = _hash_data(request.certificate)
    st.certificates = [c for c in st.certificates if c[1].serial_number != hash_data.serial_number]
    st.certificates.append((str(request.certificate_type), hash_data, request.certificate))
    return st.messages.InstallCertificateResponse(status=InstallCertificateStatus.ACCEPTED)


def delete_certificate(st: V201Dialect, request: DeleteCertificateRequest) -> DeleteCertificateResponse:
    wanted = request.certificate_hash_data
    kept = [
        c for c in st.certificates
        if not (c[1].serial_number == wanted.serial_number and c[1].issuer_name_hash == wanted.issuer_name_hash
                and c[1].issuer_key_hash == wanted.issuer_key_hash)
    ]
    if len(kept) == len(st.certificates):
        return st.messages.DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)
    st.certificates = kept
    return st.messages.DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)


def get_installed_certificate_ids(st: V201Dialect, request: GetInstalledCertificateIdsRequest) -> GetInstalledCertificateIdsResponse:
    types = {str(t) for t in request.certificate_type} if request.certificate_type is not UNSET else None
    chains = []
    for use, hash_data, _ in st.certificates:
        if types is not None and use not in types:
            continue
        try:
            certificate_type = GetCertificateIdUse(use)
        except ValueError:
            continue
        chains.append(CertificateHashDataChain(certificate_hash_data=hash_data, certificate_type=certificate_type))
    if not chains:
        return st.messages.GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.NOT_FOUND)
    return st.messages.GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.ACCEPTED,
                                              certificate_hash_data_chain=chains)


def certificate_signed(st: V201Dialect, request: CertificateSignedRequest) -> CertificateSignedResponse:
    if not _is_pem(request.certificate_chain):
        return st.messages.CertificateSignedResponse(status=CertificateSignedStatus.REJECTED, status_info=_info("InvalidFormat"))
    use = str(request.certificate_type) if request.certificate_type is not UNSET else "ChargingStationCertificate"
    st.certificates.append((use, _hash_data(request.certificate_chain), request.certificate_chain))
    return st.messages.CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED)
