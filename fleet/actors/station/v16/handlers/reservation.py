"""ReserveNow and CancelReservation (1.6 Reservation profile, 5.13 and 5.2).

A reservation holds the connector's EVSE for the idTag (and any idTag of its
``parentIdTag``) until ``expiryDate``; the connector reports Reserved; the transaction
that uses it carries the ``reservationId``.
Connector 0 cannot be reserved (ReserveConnectorZeroSupported is false).
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v16 import (
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    ReservationStatus,
    ReserveNowRequest,
    ReserveNowResponse,
)
from ...hardware import Reservation

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["cancel_reservation", "reserve_now"]


def reserve_now(st: V16Dialect, request: ReserveNowRequest) -> ReserveNowResponse:
    """Accepted, or Faulted, Occupied, Unavailable, Rejected (connector 0, an unknown
    connector, an expiry in the past)."""
    station = st.station
    target = st.connectors.get(request.connector_id)
    delay = (request.expiry_date - datetime.datetime.now(datetime.UTC)).total_seconds()
    if target is None or delay <= 0:
        return ReserveNowResponse(status=ReservationStatus.REJECTED)
    evse, connector = target
    # the same reservation id again replaces the reservation
    for other in station.evses:
        if other.reservation is not None and other.reservation.id == request.reservation_id:
            other.reservation = None
            station.cancel_timer(("reservation", request.reservation_id))
            station.defer(functools.partial(st.refresh_status, other))
    if connector.faulted:
        return ReserveNowResponse(status=ReservationStatus.FAULTED)
    if not (connector.operative and evse.operative and station.station_operative()):
        return ReserveNowResponse(status=ReservationStatus.UNAVAILABLE)
    if not evse.free:
        return ReserveNowResponse(status=ReservationStatus.OCCUPIED)
    parent = st.id_tag(request.parent_id_tag) if request.parent_id_tag is not UNSET else None
    reservation = Reservation(request.reservation_id, evse.id, st.id_tag(request.id_tag), parent)
    evse.reservation = reservation

    def expire() -> None:
        if evse.reservation is reservation:
            evse.reservation = None
            st.refresh_status(evse)

    station.set_timer(("reservation", request.reservation_id), delay, expire)
    station.defer(functools.partial(st.refresh_status, evse))
    return ReserveNowResponse(status=ReservationStatus.ACCEPTED)


def cancel_reservation(st: V16Dialect, request: CancelReservationRequest) -> CancelReservationResponse:
    for evse in st.station.evses:
        if evse.reservation is not None and evse.reservation.id == request.reservation_id:
            evse.reservation = None
            st.station.cancel_timer(("reservation", request.reservation_id))
            st.station.defer(functools.partial(st.refresh_status, evse))
            return CancelReservationResponse(status=CancelReservationStatus.ACCEPTED)
    return CancelReservationResponse(status=CancelReservationStatus.REJECTED)
