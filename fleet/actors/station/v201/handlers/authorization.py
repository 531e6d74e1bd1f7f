"""OCPP 2.0.1, block C/D Authorization: the authorization cache and the local authorization list.

Each handler is ``handler(dialect, request) -> response`` (see :mod:`fleet.actors.station.v201.handlers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v201 import (
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
    SendLocalListStatus,
    Update,
)
from .common import _info

if TYPE_CHECKING:
    from ..dialect import V201Dialect

__all__ = ["clear_cache", "get_local_list_version", "send_local_list"]


def clear_cache(st: V201Dialect, request: ClearCacheRequest) -> ClearCacheResponse:
    if not st.model.get_bool("AuthCacheCtrlr", "Enabled"):
        return st.messages.ClearCacheResponse(status=ClearCacheStatus.REJECTED, status_info=_info("Disabled"))
    st.auth_cache.clear()
    return st.messages.ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)


def send_local_list(st: V201Dialect, request: SendLocalListRequest) -> SendLocalListResponse:
    if not st.model.get_bool("LocalAuthListCtrlr", "Enabled"):
        return st.messages.SendLocalListResponse(status=SendLocalListStatus.FAILED, status_info=_info("Disabled"))
    entries = request.local_authorization_list if request.local_authorization_list is not UNSET else []
    if request.update_type == Update.FULL:
        st.local_list = {e.id_token.id_token: e.id_token_info for e in entries if e.id_token_info is not UNSET}
    else:
        if request.version_number <= st.local_list_version:
            return st.messages.SendLocalListResponse(status=SendLocalListStatus.VERSION_MISMATCH)
        for entry in entries:
            if entry.id_token_info is UNSET:
                st.local_list.pop(entry.id_token.id_token, None)
            else:
                st.local_list[entry.id_token.id_token] = entry.id_token_info
    st.local_list_version = request.version_number
    return st.messages.SendLocalListResponse(status=SendLocalListStatus.ACCEPTED)


def get_local_list_version(st: V201Dialect, request: GetLocalListVersionRequest) -> GetLocalListVersionResponse:
    if not st.model.get_bool("LocalAuthListCtrlr", "Enabled"):
        return st.messages.GetLocalListVersionResponse(version_number=0)
    return st.messages.GetLocalListVersionResponse(version_number=st.local_list_version)
