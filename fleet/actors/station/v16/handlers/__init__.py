"""The station's answers to the CSMS-to-station actions of OCPP 1.6, one module per
group of the specification (configuration, remote control, availability and reset,
authorization, data transfer).

Each handler is a plain function ``handler(dialect, request) -> response`` (the
station's :class:`~fleet.actors.station.v16.dialect.V16Dialect`), run synchronously in
the connection's reader task; what it starts runs later in the station's main loop.
An action without a handler here is answered with the CALLERROR NotSupported (the
connection's rule): the Firmware Management profile and the Security Extension's actions, until they are done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..directions import CSMS_INITIATED
from .authorization import clear_cache, get_local_list_version, send_local_list
from .availability import change_availability, reset
from .configuration import change_configuration, get_configuration
from .data_transfer import data_transfer
from .diagnostics import get_diagnostics
from .firmware import update_firmware
from .remote_control import (
    remote_start_transaction,
    remote_stop_transaction,
    trigger_message,
    unlock_connector,
)
from .reservation import cancel_reservation, reserve_now
from .security import (
    certificate_signed,
    delete_certificate,
    extended_trigger_message,
    get_installed_certificate_ids,
    get_log,
    install_certificate,
    signed_update_firmware,
)
from .smart_charging import clear_charging_profile, get_composite_schedule, set_charging_profile

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["HANDLERS", "Handler"]

#: A default handler: ``handler(dialect, request) -> response``.
Handler = Callable[["V16Dialect", Any], Any]

HANDLERS: dict[str, Handler] = {
    "SignedUpdateFirmware": signed_update_firmware,
    "InstallCertificate": install_certificate,
    "GetLog": get_log,
    "GetInstalledCertificateIds": get_installed_certificate_ids,
    "ExtendedTriggerMessage": extended_trigger_message,
    "DeleteCertificate": delete_certificate,
    "CertificateSigned": certificate_signed,
    "CancelReservation": cancel_reservation,
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "DataTransfer": data_transfer,
    "GetCompositeSchedule": get_composite_schedule,
    "GetConfiguration": get_configuration,
    "GetDiagnostics": get_diagnostics,
    "GetLocalListVersion": get_local_list_version,
    "RemoteStartTransaction": remote_start_transaction,
    "RemoteStopTransaction": remote_stop_transaction,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "TriggerMessage": trigger_message,
    "UnlockConnector": unlock_connector,
    "UpdateFirmware": update_firmware,
}

assert set(HANDLERS) == CSMS_INITIATED, "every CSMS-initiated action has a default handler"
