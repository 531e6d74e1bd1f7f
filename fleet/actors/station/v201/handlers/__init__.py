"""The station's answers to every CSMS-to-station action of OCPP 2.0.1, one module per
functional block of the specification (provisioning, authorization, remote control,
transactions, availability, reservation, smart charging, firmware, security,
diagnostics, display, data transfer).

Each handler is a plain function ``handler(dialect, request) -> response`` (the
station's :class:`~fleet.actors.station.v201.dialect.V201Dialect`): it
runs synchronously in the connection's reader task (so the answer leaves at
once), may change the station's state, and queues what follows the answer
(NotifyReport parts, triggered messages, status notification sequences) or
defers it to the station's main loop (transactions, resets). A handler never
raises except with an :class:`~fleet.ocpp.OcppError` meant as the CALLERROR.

Simulated parts: certificates are stored as text (their hash data derived from
a SHA-256 of the PEM, not parsed X.509); firmware updates and log uploads run a
timed sequence of status notifications (a location containing ``fail`` makes the
download or upload fail); the CSR of SignCertificate is a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..directions import CSMS_INITIATED, STATION_INITIATED
from .authorization import clear_cache, get_local_list_version, send_local_list
from .availability import change_availability
from .data_transfer import data_transfer
from .diagnostics import (
    clear_variable_monitoring,
    customer_information,
    get_log,
    get_monitoring_report,
    set_monitoring_base,
    set_monitoring_level,
    set_variable_monitoring,
)
from .display import clear_display_message, get_display_messages, set_display_message
from .firmware import publish_firmware, unpublish_firmware, update_firmware
from .provisioning import (
    get_base_report,
    get_report,
    get_variables,
    reset,
    set_network_profile,
    set_variables,
)
from .remote_control import (
    request_start_transaction,
    request_stop_transaction,
    trigger_message,
    unlock_connector,
)
from .reservation import cancel_reservation, reserve_now
from .security import (
    certificate_signed,
    delete_certificate,
    get_installed_certificate_ids,
    install_certificate,
)
from .smart_charging import (
    clear_charging_profile,
    get_charging_profiles,
    get_composite_schedule,
    set_charging_profile,
)
from .transactions import cost_updated, get_transaction_status

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["CSMS_INITIATED", "HANDLERS", "STATION_INITIATED", "Handler"]

#: A default handler: ``handler(dialect, request) -> response``.
Handler = Callable[["V201Dialect", Any], Any]

HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "CertificateSigned": certificate_signed,
    "ChangeAvailability": change_availability,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "ClearDisplayMessage": clear_display_message,
    "ClearVariableMonitoring": clear_variable_monitoring,
    "CostUpdated": cost_updated,
    "CustomerInformation": customer_information,
    "DataTransfer": data_transfer,
    "DeleteCertificate": delete_certificate,
    "GetBaseReport": get_base_report,
    "GetChargingProfiles": get_charging_profiles,
    "GetCompositeSchedule": get_composite_schedule,
    "GetDisplayMessages": get_display_messages,
    "GetInstalledCertificateIds": get_installed_certificate_ids,
    "GetLocalListVersion": get_local_list_version,
    "GetLog": get_log,
    "GetMonitoringReport": get_monitoring_report,
    "GetReport": get_report,
    "GetTransactionStatus": get_transaction_status,
    "GetVariables": get_variables,
    "InstallCertificate": install_certificate,
    "PublishFirmware": publish_firmware,
    "RequestStartTransaction": request_start_transaction,
    "RequestStopTransaction": request_stop_transaction,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "SetDisplayMessage": set_display_message,
    "SetMonitoringBase": set_monitoring_base,
    "SetMonitoringLevel": set_monitoring_level,
    "SetNetworkProfile": set_network_profile,
    "SetVariableMonitoring": set_variable_monitoring,
    "SetVariables": set_variables,
    "TriggerMessage": trigger_message,
    "UnlockConnector": unlock_connector,
    "UnpublishFirmware": unpublish_firmware,
    "UpdateFirmware": update_firmware,
}

assert set(HANDLERS) == CSMS_INITIATED, "every CSMS-initiated action has a default handler"
