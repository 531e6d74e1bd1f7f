"""OCPP 2.0.1, block H Reservation: ReserveNow, CancelReservation.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    ReservationUpdateStatus,
    ReserveNowRequest,
    ReserveNowResponse,
    ReserveNowStatus,
)
from ...hardware import EvseState, Reservation
from .common import _info, _now

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["cancel_reservation", "reserve_now"]


def reserve_now(st: V201Dialect, request: ReserveNowRequest) -> ReserveNowResponse:
    if not st.model.get_bool("ReservationCtrlr", "Enabled"):
        return st.messages.ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("Disabled"))
    delay = (request.expiry_date_time - _now()).total_seconds()
    if delay <= 0:
        return st.messages.ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("Expired"))
    # a new reservation with a known id replaces the old one
    for evse in st.station.evses:
        if evse.reservation is not None and evse.reservation.id == request.id:
            evse.reservation = None
            st.station.cancel_timer(("reservation", request.id))
            st.station.defer(functools.partial(st.refresh_status, evse))

    def fits(evse: EvseState) -> bool:
        return request.connector_type is UNSET or any(c.type == str(request.connector_type) for c in evse.connectors)

    if request.evse_id is not UNSET:
        candidate = st.station.evse_by_id(request.evse_id)
        if candidate is None or not fits(candidate):
            return st.messages.ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("UnknownEvse"))
        candidates = [candidate]
    else:
        if not st.model.get_bool("ReservationCtrlr", "NonEvseSpecific"):
            return st.messages.ReserveNowResponse(status=ReserveNowStatus.REJECTED)
        candidates = [e for e in st.station.evses if fits(e)]
        if not candidates:
            return st.messages.ReserveNowResponse(status=ReserveNowStatus.REJECTED, status_info=_info("NoMatchingConnector"))
    chosen: EvseState | None = None
    status = ReserveNowStatus.OCCUPIED
    for evse in candidates:
        if any(c.faulted for c in evse.connectors):
            status = ReserveNowStatus.FAULTED
        elif not (evse.operative and st.station.station_operative()):
            status = ReserveNowStatus.UNAVAILABLE
        elif not evse.free:
            status = ReserveNowStatus.OCCUPIED
        else:
            chosen = evse
            break
    if chosen is None:
        return st.messages.ReserveNowResponse(status=status)
    group = request.group_id_token if request.group_id_token is not UNSET else None
    reservation = Reservation(request.id, chosen.id, request.id_token, group)
    chosen.reservation = reservation
    target = chosen

    def expire() -> None:
        if target.reservation is reservation:
            target.reservation = None
            st.station.send(st.messages.ReservationStatusUpdateRequest(reservation_id=reservation.id,
                                                   reservation_update_status=ReservationUpdateStatus.EXPIRED),
                    durable=True)
            st.refresh_status(target)

    st.station.set_timer(("reservation", request.id), delay, expire)
    st.station.defer(lambda: st.refresh_status(target))
    return st.messages.ReserveNowResponse(status=ReserveNowStatus.ACCEPTED)


def cancel_reservation(st: V201Dialect, request: CancelReservationRequest) -> CancelReservationResponse:
    for evse in st.station.evses:
        if evse.reservation is not None and evse.reservation.id == request.reservation_id:
            evse.reservation = None
            st.station.cancel_timer(("reservation", request.reservation_id))
            st.station.defer(functools.partial(st.refresh_status, evse))
            return st.messages.CancelReservationResponse(status=CancelReservationStatus.ACCEPTED)
    return st.messages.CancelReservationResponse(status=CancelReservationStatus.REJECTED)
