"""GetConfiguration and ChangeConfiguration (1.6 Core, 5.8 and 5.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec import UNSET

from .....ocpp.v16 import (
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ConfigurationStatus,
    GetConfigurationRequest,
    GetConfigurationResponse,
    KeyValue,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["change_configuration", "get_configuration"]


def get_configuration(st: V16Dialect, request: GetConfigurationRequest) -> GetConfigurationResponse:
    """The keys asked for (every key when none is named), and the unknown ones by name;
    AuthorizationKey shows no value."""
    model = st.model
    known: list[KeyValue] = []
    unknown: list[str] = []
    if request.key is UNSET or not request.key:
        definitions = list(model.definitions())
    else:
        definitions = []
        for name in request.key:
            d = model.definition(name)
            if d is None:
                unknown.append(name)
            else:
                definitions.append(d)
    for d in definitions[: model.get_int("GetConfigurationMaxKeys")]:
        if d.write_only:
            known.append(KeyValue(key=d.name, readonly=d.readonly))
        else:
            known.append(KeyValue(key=d.name, readonly=d.readonly, value=model.get(d.name)))
    if unknown:
        return GetConfigurationResponse(configuration_key=known, unknown_key=unknown)
    return GetConfigurationResponse(configuration_key=known)


def change_configuration(st: V16Dialect, request: ChangeConfigurationRequest) -> ChangeConfigurationResponse:
    """NotSupported (unknown key), Rejected (read-only, bad value), RebootRequired, Accepted."""
    status, definition = st.model.change(request.key, request.value)
    if definition is not None and status in (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED):
        st.key_changed(definition)
    return ChangeConfigurationResponse(status=status)
