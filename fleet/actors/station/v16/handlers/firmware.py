"""UpdateFirmware (1.6 Firmware Management, 5.19 and 6.x): a timed, simulated update.

At ``retrieveDate`` the station reports Downloading, then Downloaded (DownloadFailed when
the location contains ``fail``), then Installing once no transaction runs, reboots, and
after its next accepted boot reports Installed with the new firmware version in its
BootNotification. Steps are the profile's ``firmware_step`` simulated seconds apart.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING

from .....ocpp.v16 import (
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["update_firmware"]


def update_firmware(st: V16Dialect, request: UpdateFirmwareRequest) -> UpdateFirmwareResponse:
    station = st.station
    step = station.profile.firmware_step
    location = request.location

    def notify(status: FirmwareStatus) -> None:
        st.firmware_status = status
        station.send(FirmwareStatusNotificationRequest(status=status), durable=True)

    def then(seconds: float, action: Callable[[], None]) -> None:
        station.sim_timer("fw", seconds, action)

    def install() -> None:
        if station.any_transaction():
            then(max(step, 1.0), install)
            return
        notify(FirmwareStatus.INSTALLING)

        def reboot() -> None:
            st.firmware_installed(f"{station.profile.identity.firmware_version}+fw"[:50])
            station.reboot("FirmwareUpdate")

        then(step, reboot)

    def downloaded() -> None:
        notify(FirmwareStatus.DOWNLOADED)
        then(step, install)

    def download() -> None:
        notify(FirmwareStatus.DOWNLOADING)
        if "fail" in location.lower():
            then(step, lambda: notify(FirmwareStatus.DOWNLOAD_FAILED))
        else:
            then(step, downloaded)

    wait = max(0.0, (request.retrieve_date - datetime.datetime.now(datetime.UTC)).total_seconds())
    station.set_timer("fw", wait, download)
    return UpdateFirmwareResponse()
