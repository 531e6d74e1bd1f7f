"""The Security Extension's CSMS-initiated actions (OCPP 1.6 security whitepaper, edition
3): certificates, ExtendedTriggerMessage, GetLog, SignedUpdateFirmware.

Simulated parts: certificates are kept as text, identified by hash data derived from a
SHA-256 of the PEM (not parsed X.509); the CSR of SignCertificate is a placeholder; a
log upload or a firmware download to a location containing ``fail`` fails, a signature
containing ``invalid`` does not verify. Steps are the profile's ``firmware_step``
simulated seconds apart.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v16 import (
    CertificateHashData,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatus,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
    ExtendedTriggerMessageStatus,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatus,
    GetLogRequest,
    GetLogResponse,
    HashAlgorithm,
    InstallCertificateRequest,
    InstallCertificateResponse,
    InstallCertificateStatus,
    LogStatus,
    LogStatusNotificationRequest,
    SignedFirmwareStatus,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareStatus,
    UploadLogStatus,
)
from .remote_control import trigger

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = [
    "certificate_signed",
    "delete_certificate",
    "extended_trigger_message",
    "get_installed_certificate_ids",
    "get_log",
    "install_certificate",
    "signed_update_firmware",
]


def _is_pem(text: str) -> bool:
    return "-----BEGIN CERTIFICATE-----" in text and "-----END CERTIFICATE-----" in text


def hash_data(pem: str) -> CertificateHashData:
    """The (simulated) hash data identifying a certificate."""
    digest = hashlib.sha256(pem.strip().encode()).hexdigest()
    key_digest = hashlib.sha256((pem.strip() + "#key").encode()).hexdigest()
    return CertificateHashData(hash_algorithm=HashAlgorithm.SHA256, issuer_name_hash=digest,
                               issuer_key_hash=key_digest, serial_number=digest[:20])


def install_certificate(st: V16Dialect, request: InstallCertificateRequest) -> InstallCertificateResponse:
    if not _is_pem(request.certificate):
        return InstallCertificateResponse(status=InstallCertificateStatus.REJECTED)
    data = hash_data(request.certificate)
    st.certificates = [c for c in st.certificates if c[1].serial_number != data.serial_number]
    st.certificates.append((str(request.certificate_type), data, request.certificate))
    return InstallCertificateResponse(status=InstallCertificateStatus.ACCEPTED)


def delete_certificate(st: V16Dialect, request: DeleteCertificateRequest) -> DeleteCertificateResponse:
    wanted = request.certificate_hash_data
    kept = [c for c in st.certificates if not (
        c[1].serial_number == wanted.serial_number and c[1].issuer_name_hash == wanted.issuer_name_hash
        and c[1].issuer_key_hash == wanted.issuer_key_hash)]
    if len(kept) == len(st.certificates):
        return DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)
    st.certificates = kept
    return DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)


def get_installed_certificate_ids(st: V16Dialect,
                                  request: GetInstalledCertificateIdsRequest) -> GetInstalledCertificateIdsResponse:
    found = [data for use, data, _ in st.certificates if use == request.certificate_type]
    if not found:
        return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.NOT_FOUND)
    return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.ACCEPTED,
                                              certificate_hash_data=found)


def certificate_signed(st: V16Dialect, request: CertificateSignedRequest) -> CertificateSignedResponse:
    if not _is_pem(request.certificate_chain):
        return CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
    st.certificates.append(("ChargePointCertificate", hash_data(request.certificate_chain), request.certificate_chain))
    return CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED)


def extended_trigger_message(st: V16Dialect, request: ExtendedTriggerMessageRequest) -> ExtendedTriggerMessageResponse:
    connector_id = request.connector_id if request.connector_id is not UNSET else None
    if connector_id not in (None, 0) and st.connectors.get(connector_id) is None:
        return ExtendedTriggerMessageResponse(status=ExtendedTriggerMessageStatus.REJECTED)
    if not trigger(st, request.requested_message, connector_id):
        return ExtendedTriggerMessageResponse(status=ExtendedTriggerMessageStatus.NOT_IMPLEMENTED)
    return ExtendedTriggerMessageResponse(status=ExtendedTriggerMessageStatus.ACCEPTED)


def get_log(st: V16Dialect, request: GetLogRequest) -> GetLogResponse:
    """Accepted (AcceptedCanceled while another upload runs), then LogStatusNotification
    Uploading and Uploaded (UploadFailure when the location contains ``fail``)."""
    station = st.station
    busy = st.log_status == UploadLogStatus.UPLOADING
    request_id = request.request_id
    location = request.log.remote_location
    outcome = UploadLogStatus.UPLOAD_FAILURE if "fail" in location.lower() else UploadLogStatus.UPLOADED

    def notify(status: UploadLogStatus) -> None:
        st.log_status = status
        st.log_request_id = request_id
        station.send(LogStatusNotificationRequest(status=status, request_id=request_id), durable=True)

    def uploading() -> None:
        notify(UploadLogStatus.UPLOADING)
        station.sim_timer("log", station.profile.firmware_step, lambda: notify(outcome))

    station.sim_timer("log", 0.0, uploading)
    return GetLogResponse(status=LogStatus.ACCEPTED_CANCELED if busy else LogStatus.ACCEPTED,
                          filename=f"{station.station_id}-{request.log_type}-{request_id}.log"[:255])


def signed_update_firmware(st: V16Dialect, request: SignedUpdateFirmwareRequest) -> SignedUpdateFirmwareResponse:
    """InvalidCertificate for a signing certificate that is no PEM; else Accepted and
    SignedFirmwareStatusNotification: Downloading, Downloaded, SignatureVerified (or
    InvalidSignature), Installing, InstallRebooting, the reboot, then Installed."""
    firmware = request.firmware
    if not _is_pem(firmware.signing_certificate):
        return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE)
    station = st.station
    step = station.profile.firmware_step
    request_id = request.request_id

    def notify(status: SignedFirmwareStatus) -> None:
        st.firmware_status = status
        station.send(SignedFirmwareStatusNotificationRequest(status=status, request_id=request_id), durable=True)

    def then(seconds: float, action: Callable[[], None]) -> None:
        station.sim_timer("fw", seconds, action)

    def install() -> None:
        if station.any_transaction():
            then(max(step, 1.0), install)
            return
        notify(SignedFirmwareStatus.INSTALLING)

        def reboot() -> None:
            notify(SignedFirmwareStatus.INSTALL_REBOOTING)
            st.firmware_installed(f"{station.profile.identity.firmware_version}+fw{request_id}"[:50], request_id)
            station.reboot("FirmwareUpdate")

        then(step, reboot)

    def verified() -> None:
        if "invalid" in firmware.signature.lower():
            notify(SignedFirmwareStatus.INVALID_SIGNATURE)
            return
        notify(SignedFirmwareStatus.SIGNATURE_VERIFIED)
        wait = 0.0
        if firmware.install_date_time is not UNSET:
            wait = max(0.0, (firmware.install_date_time - datetime.datetime.now(datetime.UTC)).total_seconds())
        if wait > 0:
            notify(SignedFirmwareStatus.INSTALL_SCHEDULED)
            station.set_timer("fw", wait, install)
        else:
            then(step, install)

    def download() -> None:
        notify(SignedFirmwareStatus.DOWNLOADING)
        if "fail" in firmware.location.lower():
            then(step, lambda: notify(SignedFirmwareStatus.DOWNLOAD_FAILED))
            return

        def downloaded() -> None:
            notify(SignedFirmwareStatus.DOWNLOADED)
            then(step, verified)

        then(step, downloaded)

    wait = max(0.0, (firmware.retrieve_date_time - datetime.datetime.now(datetime.UTC)).total_seconds())
    if wait > 0:
        notify(SignedFirmwareStatus.DOWNLOAD_SCHEDULED)
    busy = station.has_timer("fw")
    station.set_timer("fw", wait, download)
    return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED_CANCELED if busy
                                        else UpdateFirmwareStatus.ACCEPTED)
