"""ChangeAvailability and Reset (1.6 Core 5.2, 5.13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .....ocpp.v16 import (
    AvailabilityStatus,
    AvailabilityType,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["change_availability", "reset"]


def change_availability(st: V16Dialect, request: ChangeAvailabilityRequest) -> ChangeAvailabilityResponse:
    """Connector 0: the whole charge point; else one connector. Scheduled while a
    transaction runs there (the change follows its end); Rejected for an unknown connector."""
    operative = request.type == AvailabilityType.OPERATIVE
    accepted = ChangeAvailabilityResponse(status=AvailabilityStatus.ACCEPTED)
    scheduled = ChangeAvailabilityResponse(status=AvailabilityStatus.SCHEDULED)
    station = st.station
    if request.connector_id == 0:
        if station.any_transaction():
            station.schedule_station_operative(operative)
            return scheduled
        station.schedule_station_operative(None)
        if station.station_operative() != operative:
            station.defer(lambda: station.set_station_operative(operative))
        return accepted
    target = st.connectors.get(request.connector_id)
    if target is None:
        return ChangeAvailabilityResponse(status=AvailabilityStatus.REJECTED)
    evse, connector = target
    if evse.tx is not None and evse.plugged in (connector.connector_id, None):
        st.pending_availability[request.connector_id] = operative
        return scheduled
    st.pending_availability.pop(request.connector_id, None)
    connector.operative = operative
    station.defer(lambda: st.update_evse(evse))
    return accepted


def reset(st: V16Dialect, request: ResetRequest) -> ResetResponse:
    """Accepted; the station boots again with the same identity. Soft: its transactions
    stop gracefully first (StopTransaction, reason SoftReset, answered before the reboot).
    Hard: it reboots once the answer left; its transactions end with reason HardReset, their
    StopTransaction queued (durable, like everything queued) and sent after the next boot."""
    if request.type == ResetType.HARD:
        st.station.request_reboot("HardReset")
    else:
        st.station.defer(st.soft_reset)
    return ResetResponse(status=ResetStatus.ACCEPTED)
