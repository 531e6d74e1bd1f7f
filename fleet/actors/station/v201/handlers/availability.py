"""OCPP 2.0.1, block G Availability: ChangeAvailability (at once, or once the transaction ended).

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeAvailabilityStatus,
    OperationalStatus,
)
from .common import _info

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["change_availability"]


def change_availability(st: V201Dialect, request: ChangeAvailabilityRequest) -> ChangeAvailabilityResponse:
    operative = request.operational_status == OperationalStatus.OPERATIVE
    accepted = st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.ACCEPTED)
    if request.evse is UNSET or request.evse.id == 0:
        if not operative and st.station.any_transaction():
            st.station.schedule_station_operative(False)
            return st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
        st.station.schedule_station_operative(None)
        if st.station.station_operative() != operative:
            st.station.defer(lambda: st.station.set_station_operative(operative))
        return accepted
    evse = st.station.evse_by_id(request.evse.id)
    if evse is None:
        return st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.REJECTED, status_info=_info("UnknownEvse"))
    if request.evse.connector_id is not UNSET:
        connector = evse.connector(request.evse.connector_id)
        if connector is None:
            return st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.REJECTED,
                                              status_info=_info("UnknownConnector"))
        if not operative and evse.tx is not None and evse.plugged == connector.connector_id:
            evse.pending_operative = False
            return st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
        connector.operative = operative
        st.station.defer(lambda: st.update_evse(evse))
        return accepted
    if not operative and evse.tx is not None:
        evse.pending_operative = False
        return st.messages.ChangeAvailabilityResponse(status=ChangeAvailabilityStatus.SCHEDULED)
    evse.pending_operative = None
    evse.operative = operative
    st.station.defer(lambda: st.update_evse(evse))
    return accepted
