"""The configuration keys of a 1.6 station: 1.6's configuration model (what the device
model is to 2.0.1).

Every standard key of OCPP 1.6 (edition 2, chapter 9, with the Security Extension's)
that the station implements, with its type (``boolean``, ``integer`` in its unit,
``CSL`` a comma-separated list, ``string``), whether the CSMS may change it
(``readonly``), whether a change needs a reboot and whether GetConfiguration hides its
value (``AuthorizationKey`` is write-only). Defaults come from the profile (its
heartbeat interval, sampled data, ping interval, security profile, connectors); a
profile's ``[variables]`` table overrides them by key name
(``MeterValueSampleInterval = 30``), checked by :func:`check_overrides` before any
station starts.

The key table is shared per profile; a station keeps only its values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal

import msgspec

from ....ocpp.v16 import ConfigurationStatus, Measurand
from ....profiles import StationProfile

__all__ = ["Configuration", "KeyDef", "check_overrides", "key_table"]

KeyType = Literal["boolean", "integer", "CSL", "string"]

_MEASURANDS: Final = frozenset(m.value for m in Measurand)


class KeyDef:
    """One configuration key: its name, type, unit, access and default."""

    __slots__ = ("check", "default", "name", "readonly", "reboot", "type", "unit", "write_only")

    def __init__(self, name: str, type: KeyType, default: str, *, readonly: bool = False, unit: str = "",
                 reboot: bool = False, write_only: bool = False,
                 check: Callable[[str], str | None] | None = None) -> None:
        self.name = name
        self.type = type
        self.default = default
        self.readonly = readonly
        self.unit = unit
        #: a change takes effect after a reboot (ChangeConfiguration answers RebootRequired)
        self.reboot = reboot
        #: GetConfiguration does not show its value (AuthorizationKey)
        self.write_only = write_only
        self.check = check

    def normalize(self, value: str) -> tuple[str | None, str]:
        """``value`` as this key stores it, or ``(None, why it is wrong)``."""
        text = value.strip()
        if self.type == "boolean":
            if text.lower() not in ("true", "false"):
                return None, "not true or false"
            return text.lower(), ""
        if self.type == "integer":
            try:
                number = int(text)
            except ValueError:
                return None, "not an integer"
            if number < 0:
                return None, "negative"
            return str(number), ""
        if self.type == "CSL":
            items = [item.strip() for item in text.split(",") if item.strip()]
            text = ",".join(items)
        if len(text) > 500:
            return None, "longer than 500 characters"
        if self.check is not None:
            problem = self.check(text)
            if problem is not None:
                return None, problem
        return text, ""


def _measurands(text: str) -> str | None:
    unknown = [item for item in text.split(",") if item and item not in _MEASURANDS]
    return f"not 1.6 measurands: {', '.join(unknown)}" if unknown else None


def _password(text: str) -> str | None:
    # OCPP 1.6 security: the Basic-auth password is 16 to 40 characters (20 bytes as hex).
    return None if 16 <= len(text) <= 40 else "not 16 to 40 characters"


def _security_profile(text: str) -> str | None:
    return None if text in ("0", "1", "2", "3") else "not a security profile 0 to 3"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _standard(profile: StationProfile) -> list[KeyDef]:
    sampled = profile.sampled_data
    connectors = sum(len(evse.connectors) for evse in profile.evses)
    return [
        # Core profile
        KeyDef("AllowOfflineTxForUnknownId", "boolean", "false"),
        KeyDef("AuthorizationCacheEnabled", "boolean", "true"),
        KeyDef("AuthorizeRemoteTxRequests", "boolean", "true"),
        KeyDef("ClockAlignedDataInterval", "integer", str(sampled.aligned_interval), unit="s"),
        KeyDef("ConnectionTimeOut", "integer", "60", unit="s"),
        KeyDef("ConnectorPhaseRotation", "CSL", "0.RST"),
        KeyDef("GetConfigurationMaxKeys", "integer", "100", readonly=True),
        KeyDef("HeartbeatInterval", "integer", str(profile.heartbeat_interval), unit="s"),
        KeyDef("LocalAuthorizeOffline", "boolean", "true"),
        KeyDef("LocalPreAuthorize", "boolean", "false"),
        KeyDef("MeterValuesAlignedData", "CSL", ",".join(sampled.aligned_measurands), check=_measurands),
        KeyDef("MeterValuesAlignedDataMaxLength", "integer", "10", readonly=True),
        KeyDef("MeterValuesSampledData", "CSL", ",".join(sampled.tx_updated_measurands), check=_measurands),
        KeyDef("MeterValuesSampledDataMaxLength", "integer", "10", readonly=True),
        KeyDef("MeterValueSampleInterval", "integer", str(sampled.tx_updated_interval), unit="s"),
        KeyDef("MinimumStatusDuration", "integer", "0", unit="s"),
        KeyDef("NumberOfConnectors", "integer", str(connectors), readonly=True),
        KeyDef("ResetRetries", "integer", "3"),
        KeyDef("StopTransactionOnEVSideDisconnect", "boolean", "true"),
        KeyDef("StopTransactionOnInvalidId", "boolean", "true"),
        KeyDef("StopTxnAlignedData", "CSL", "", check=_measurands),
        KeyDef("StopTxnAlignedDataMaxLength", "integer", "10", readonly=True),
        KeyDef("StopTxnSampledData", "CSL", ",".join(sampled.tx_ended_measurands), check=_measurands),
        KeyDef("StopTxnSampledDataMaxLength", "integer", "10", readonly=True),
        KeyDef("SupportedFeatureProfiles", "CSL", "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger", readonly=True),
        KeyDef("TransactionMessageAttempts", "integer", "3"),
        KeyDef("TransactionMessageRetryInterval", "integer", "10", unit="s"),
        KeyDef("UnlockConnectorOnEVSideDisconnect", "boolean", "true"),
        KeyDef("WebSocketPingInterval", "integer", str(profile.ping_interval), unit="s", reboot=True),
        # Local Auth List Management profile
        KeyDef("LocalAuthListEnabled", "boolean", "true"),
        KeyDef("LocalAuthListMaxLength", "integer", "1000", readonly=True),
        KeyDef("SendLocalListMaxLength", "integer", "100", readonly=True),
        # Reservation profile
        KeyDef("ReserveConnectorZeroSupported", "boolean", "false", readonly=True),
        # Smart Charging profile
        KeyDef("ChargeProfileMaxStackLevel", "integer", "8", readonly=True),
        KeyDef("ChargingScheduleAllowedChargingRateUnit", "CSL", "Current,Power", readonly=True),
        KeyDef("ChargingScheduleMaxPeriods", "integer", "24", readonly=True),
        KeyDef("MaxChargingProfilesInstalled", "integer", "16", readonly=True),
        # Security Extension
        KeyDef("AuthorizationKey", "string", "", write_only=True, check=_password),
        KeyDef("CpoName", "string", ""),
        KeyDef("SecurityProfile", "integer", str(profile.security.profile), check=_security_profile, reboot=True),
    ]


_tables: dict[bytes, Mapping[str, KeyDef]] = {}
_TABLE_CACHE: Final = 64


def _override_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key_table(profile: StationProfile) -> Mapping[str, KeyDef]:
    """The (shared, cached) keys of ``profile``'s stations, its ``[variables]`` applied as
    defaults (entries :func:`check_overrides` refuses are left out)."""
    cache_key = msgspec.json.encode(profile)
    table = _tables.get(cache_key)
    if table is not None:
        return table
    defs = {d.name: d for d in _standard(profile)}
    for name, value in profile.variables.items():
        d = defs.get(name)
        if d is not None:
            normalized, _ = d.normalize(_override_text(value))
            if normalized is not None:
                d.default = normalized
    table = MappingProxyType(defs)
    if len(_tables) >= _TABLE_CACHE:
        _tables.pop(next(iter(_tables)))
    _tables[cache_key] = table
    return table


def check_overrides(profile: StationProfile) -> tuple[str, str] | None:
    """The first bad entry of ``profile.variables`` (as 1.6 configuration keys) as
    ``(name, what is wrong)``, or ``None``."""
    defs = {d.name: d for d in _standard(profile)}
    for name, value in profile.variables.items():
        d = defs.get(name)
        if d is None:
            return name, "expected an OCPP 1.6 configuration key (e.g. MeterValueSampleInterval)"
        normalized, reason = d.normalize(_override_text(value))
        if normalized is None:
            return name, f"expected a {d.type} value, got {value!r} ({reason})"
    return None


class Configuration:
    """One station's configuration keys: the profile's table and its own changes.

    Args:
        table: the keys (:func:`key_table`).
        values: initial values that differ from the defaults (the station's password).
    """

    __slots__ = ("_table", "_values")

    def __init__(self, table: Mapping[str, KeyDef], values: dict[str, str] | None = None) -> None:
        self._table = table
        self._values: dict[str, str] = dict(values or {})

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def definitions(self) -> Iterable[KeyDef]:
        return self._table.values()

    def definition(self, name: str) -> KeyDef | None:
        return self._table.get(name)

    def get(self, name: str) -> str:
        value = self._values.get(name)
        return value if value is not None else self._table[name].default

    def get_int(self, name: str) -> int:
        return int(self.get(name))

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_list(self, name: str) -> list[str]:
        return [item for item in self.get(name).split(",") if item]

    def put(self, name: str, value: str) -> None:
        """Set ``name`` (known) to ``value`` (already normalized), whatever its access."""
        self._values[name] = value

    def change(self, name: str, value: str) -> tuple[ConfigurationStatus, KeyDef | None]:
        """ChangeConfiguration: NotSupported (unknown key), Rejected (read-only or a bad
        value), RebootRequired or Accepted (then it is stored)."""
        d = self._table.get(name)
        if d is None:
            return ConfigurationStatus.NOT_SUPPORTED, None
        if d.readonly:
            return ConfigurationStatus.REJECTED, d
        normalized, _ = d.normalize(value)
        if normalized is None:
            return ConfigurationStatus.REJECTED, d
        self._values[name] = normalized
        return (ConfigurationStatus.REBOOT_REQUIRED if d.reboot else ConfigurationStatus.ACCEPTED), d
