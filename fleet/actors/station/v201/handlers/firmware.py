"""OCPP 2.0.1, block L Firmware management: UpdateFirmware's timed status sequence (a location
containing ``fail`` makes the download fail), PublishFirmware and UnpublishFirmware (not a local
controller).

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import BootReason as _BootReason
from .....ocpp.v201 import (
    FirmwareStatus,
    GenericStatus,
    PublishFirmwareRequest,
    PublishFirmwareResponse,
    UnpublishFirmwareRequest,
    UnpublishFirmwareResponse,
    UnpublishFirmwareStatus,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
    UpdateFirmwareStatus,
)
from .common import _info, _now

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["publish_firmware", "unpublish_firmware", "update_firmware"]


def _fails(location: str) -> bool:
    return "fail" in location.lower()


def update_firmware(st: V201Dialect, request: UpdateFirmwareRequest) -> UpdateFirmwareResponse:
    busy = st.firmware_status not in (FirmwareStatus.IDLE, FirmwareStatus.INSTALLED, FirmwareStatus.DOWNLOAD_FAILED,
                                      FirmwareStatus.INSTALLATION_FAILED, FirmwareStatus.INVALID_SIGNATURE,
                                      FirmwareStatus.INSTALL_VERIFICATION_FAILED)
    if st.firmware_status == FirmwareStatus.INSTALL_REBOOTING:
        return st.messages.UpdateFirmwareResponse(status=UpdateFirmwareStatus.REJECTED, status_info=_info("Rebooting"))
    request_id = request.request_id
    firmware = request.firmware
    step = st.station.profile.firmware_step

    def notify(status: FirmwareStatus) -> None:
        st.firmware_status = status
        st.firmware_request_id = request_id
        st.station.send(st.messages.FirmwareStatusNotificationRequest(status=status, request_id=request_id), durable=True)

    def then(seconds: float, action: Callable[[], None]) -> None:
        st.station.sim_timer("fw", seconds, action)

    def install() -> None:
        if st.station.any_transaction():
            if st.firmware_status != FirmwareStatus.INSTALL_SCHEDULED:
                notify(FirmwareStatus.INSTALL_SCHEDULED)
            then(max(step, 1.0), install)
            return
        notify(FirmwareStatus.INSTALLING)

        def reboot() -> None:
            notify(FirmwareStatus.INSTALL_REBOOTING)
            st.firmware_installed(f"{st.station.profile.identity.firmware_version}+fw{request_id}"[:50])
            st.station.reboot(_BootReason.FIRMWARE_UPDATE)

        then(step, reboot)

    def downloaded() -> None:
        notify(FirmwareStatus.DOWNLOADED)
        if firmware.signature is not UNSET:
            if "invalid" in firmware.signature.lower():
                then(step, lambda: notify(FirmwareStatus.INVALID_SIGNATURE))
                return
            then(step, lambda: notify(FirmwareStatus.SIGNATURE_VERIFIED))
        wait = 0.0
        if firmware.install_date_time is not UNSET:
            wait = max(0.0, (firmware.install_date_time - _now()).total_seconds())
        if wait > 0:

            def scheduled() -> None:
                notify(FirmwareStatus.INSTALL_SCHEDULED)
                st.station.set_timer("fw", wait, install)

            then(step, scheduled)
        else:
            then(2 * step if firmware.signature is not UNSET else step, install)

    def download() -> None:
        notify(FirmwareStatus.DOWNLOADING)
        if _fails(firmware.location):
            then(step, lambda: notify(FirmwareStatus.DOWNLOAD_FAILED))
        else:
            then(step, downloaded)

    wait = max(0.0, (firmware.retrieve_date_time - _now()).total_seconds())
    if wait > 0:
        notify(FirmwareStatus.DOWNLOAD_SCHEDULED)
        st.station.set_timer("fw", wait, download)
    else:
        st.station.set_timer("fw", 0.0, download)
    if busy:
        return st.messages.UpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED_CANCELED)
    return st.messages.UpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED)


def publish_firmware(st: V201Dialect, request: PublishFirmwareRequest) -> PublishFirmwareResponse:
    return st.messages.PublishFirmwareResponse(status=GenericStatus.REJECTED, status_info=_info("NotALocalController"))


def unpublish_firmware(st: V201Dialect, request: UnpublishFirmwareRequest) -> UnpublishFirmwareResponse:
    return st.messages.UnpublishFirmwareResponse(status=UnpublishFirmwareStatus.NO_FIRMWARE)
