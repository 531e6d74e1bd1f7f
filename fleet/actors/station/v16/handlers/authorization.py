"""ClearCache, GetLocalListVersion and SendLocalList (1.6 Core 5.4; Local Auth List
Management 5.10, 5.15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v16 import (
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
    UpdateStatus,
    UpdateType,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["clear_cache", "get_local_list_version", "send_local_list"]


def clear_cache(st: V16Dialect, request: ClearCacheRequest) -> ClearCacheResponse:
    if not st.model.get_bool("AuthorizationCacheEnabled"):
        return ClearCacheResponse(status=ClearCacheStatus.REJECTED)
    st.auth_cache.clear()
    return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)


def get_local_list_version(st: V16Dialect, request: GetLocalListVersionRequest) -> GetLocalListVersionResponse:
    """The list's version (0: no list; -1 while the local list is disabled)."""
    if not st.model.get_bool("LocalAuthListEnabled"):
        return GetLocalListVersionResponse(list_version=-1)
    return GetLocalListVersionResponse(list_version=st.local_list_version if st.local_list else 0)


def send_local_list(st: V16Dialect, request: SendLocalListRequest) -> SendLocalListResponse:
    """Full replaces the list, Differential updates it (VersionMismatch unless newer);
    an entry without idTagInfo is removed. NotSupported while the local list is disabled;
    Failed beyond LocalAuthListMaxLength or SendLocalListMaxLength."""
    model = st.model
    if not model.get_bool("LocalAuthListEnabled"):
        return SendLocalListResponse(status=UpdateStatus.NOT_SUPPORTED)
    entries = request.local_authorization_list if request.local_authorization_list is not UNSET else []
    if len(entries) > model.get_int("SendLocalListMaxLength"):
        return SendLocalListResponse(status=UpdateStatus.FAILED)
    if request.update_type == UpdateType.DIFFERENTIAL:
        if request.list_version <= st.local_list_version:
            return SendLocalListResponse(status=UpdateStatus.VERSION_MISMATCH)
        updated = dict(st.local_list)
    else:
        updated = {}
    for entry in entries:
        if entry.id_tag_info is UNSET:
            updated.pop(entry.id_tag, None)
        else:
            updated[entry.id_tag] = entry.id_tag_info
    if len(updated) > model.get_int("LocalAuthListMaxLength"):
        return SendLocalListResponse(status=UpdateStatus.FAILED)
    st.local_list = updated
    st.local_list_version = request.list_version
    for id_tag in updated:
        st.auth_cache.pop(id_tag, None)
    return SendLocalListResponse(status=UpdateStatus.ACCEPTED)
