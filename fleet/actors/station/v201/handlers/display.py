"""OCPP 2.0.1, block O Display messages.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from .....ocpp.v201 import (
    ClearDisplayMessageRequest,
    ClearDisplayMessageResponse,
    ClearMessageStatus,
    DisplayMessageStatus,
    GetDisplayMessagesRequest,
    GetDisplayMessagesResponse,
    GetDisplayMessagesStatus,
    SetDisplayMessageRequest,
    SetDisplayMessageResponse,
)
from .common import _chunks, _info

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["clear_display_message", "get_display_messages", "set_display_message"]


def set_display_message(st: V201Dialect, request: SetDisplayMessageRequest) -> SetDisplayMessageResponse:
    message = request.message
    if not st.model.get_bool("DisplayMessageCtrlr", "Enabled"):
        return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.REJECTED, status_info=_info("Disabled"))
    if str(message.message.format) not in st.model.get_list("DisplayMessageCtrlr", "SupportedFormats"):
        return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.NOT_SUPPORTED_MESSAGE_FORMAT)
    if str(message.priority) not in st.model.get_list("DisplayMessageCtrlr", "SupportedPriorities"):
        return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.NOT_SUPPORTED_PRIORITY)
    if message.transaction_id is not UNSET and not any(
        e.tx is not None and e.tx.id == message.transaction_id for e in st.station.evses
    ):
        return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.UNKNOWN_TRANSACTION)
    capacity = st.model.get_int("DisplayMessageCtrlr", "DisplayMessages", default=32)
    if message.id not in st.display_messages and len(st.display_messages) >= capacity:
        return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.REJECTED, status_info=_info("Full"))
    st.display_messages[message.id] = message
    return st.messages.SetDisplayMessageResponse(status=DisplayMessageStatus.ACCEPTED)


def get_display_messages(st: V201Dialect, request: GetDisplayMessagesRequest) -> GetDisplayMessagesResponse:
    found = []
    for message_id, message in sorted(st.display_messages.items()):
        if request.id is not UNSET and message_id not in request.id:
            continue
        if request.priority is not UNSET and message.priority != request.priority:
            continue
        if request.state is not UNSET and message.state != request.state:
            continue
        found.append(message)
    if not found:
        return st.messages.GetDisplayMessagesResponse(status=GetDisplayMessagesStatus.UNKNOWN)
    parts = _chunks(found, 10)
    for n, part in enumerate(parts):
        fields: dict[str, Any] = {"request_id": request.request_id, "message_info": part}
        if n < len(parts) - 1:
            fields["tbc"] = True
        st.station.send(st.messages.NotifyDisplayMessagesRequest(**fields), followup=True)
    return st.messages.GetDisplayMessagesResponse(status=GetDisplayMessagesStatus.ACCEPTED)


def clear_display_message(st: V201Dialect, request: ClearDisplayMessageRequest) -> ClearDisplayMessageResponse:
    if st.display_messages.pop(request.id, None) is None:
        return st.messages.ClearDisplayMessageResponse(status=ClearMessageStatus.UNKNOWN)
    return st.messages.ClearDisplayMessageResponse(status=ClearMessageStatus.ACCEPTED)
