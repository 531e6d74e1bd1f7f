"""The station's device model: components, variables and their attributes (OCPP 2.0.1 part 1 / part 2 B).

Two layers keep a fleet small in memory:

* a :class:`Catalog` of variable definitions (name, data type, mutability, unit,
  limits, default), built once per profile and shared by every station of it;
* a per-station :class:`DeviceModel`, which stores only the values that differ
  from the catalog's defaults (the station id, its password, what the CSMS set).

Values that the station computes (availability, counts, the clock) are marked
*dynamic* and asked of the station through a provider callback.

Get/SetVariables follow the spec's attribute statuses: ``UnknownComponent`` when no
component matches (name, instance, EVSE, connector), ``UnknownVariable`` when the
component has no such variable, ``NotSupportedAttributeType`` for an attribute the
variable lacks, ``Rejected`` for reading a WriteOnly or writing a ReadOnly variable
or for a value that is not valid for its data type, limits or list, and
``RebootRequired`` for the few variables that take effect only after a reboot.
Names are matched case-insensitively.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from ....ocpp.v201 import (
    EVSE,
    Attribute,
    Component,
    ComponentCriterion,
    ComponentVariable,
    Data,
    GetVariableData,
    GetVariableResult,
    GetVariableStatus,
    Mutability,
    ReportBase,
    ReportData,
    SetVariableData,
    SetVariableResult,
    SetVariableStatus,
    StatusInfo,
    Variable,
    VariableAttribute,
    VariableCharacteristics,
)

if TYPE_CHECKING:
    from ....profiles import StationProfile

__all__ = ["Catalog", "DeviceModel", "Key", "VarDef", "catalog_for", "check_overrides", "key"]

#: (component, component instance, evse id, connector id, variable, variable instance), lower-cased names.
Key = tuple[str, str, int, int, str, str]

RO = Mutability.READ_ONLY
RW = Mutability.READ_WRITE
WO = Mutability.WRITE_ONLY

_MEASURANDS = (
    "Current.Export,Current.Import,Current.Offered,Energy.Active.Export.Register,Energy.Active.Import.Register,"
    "Energy.Reactive.Export.Register,Energy.Reactive.Import.Register,Energy.Active.Export.Interval,"
    "Energy.Active.Import.Interval,Energy.Active.Net,Energy.Reactive.Export.Interval,"
    "Energy.Reactive.Import.Interval,Energy.Reactive.Net,Energy.Apparent.Net,Energy.Apparent.Import,"
    "Energy.Apparent.Export,Frequency,Power.Active.Export,Power.Active.Import,Power.Factor,Power.Offered,"
    "Power.Reactive.Export,Power.Reactive.Import,SoC,Voltage"
)
_TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"
_AVAILABILITY = "Available,Occupied,Reserved,Unavailable,Faulted"


def key(
    component: str,
    variable: str,
    *,
    component_instance: str | None = None,
    evse: int | None = None,
    connector: int | None = None,
    variable_instance: str | None = None,
) -> Key:
    """The lookup key of a variable (names lower-cased; absent parts are ``""`` / ``0``)."""
    return (
        component.lower(),
        (component_instance or "").lower(),
        evse or 0,
        connector or 0,
        variable.lower(),
        (variable_instance or "").lower(),
    )


@functools.lru_cache(maxsize=1024)
def _named(component: str, variable: str, instance: str | None) -> Key:
    """:func:`key` of a variable the station names itself (a few dozen names, read on every
    heartbeat and meter value): one tuple for all stations instead of one per read."""
    return key(component, variable, variable_instance=instance)


class VarDef:
    """One variable's definition, shared by every station of a profile (read-only)."""

    __slots__ = (
        "component",
        "component_instance",
        "connector",
        "constant",
        "data_type",
        "default",
        "dynamic",
        "evse",
        "instance",
        "key",
        "max_limit",
        "max_set",
        "min_limit",
        "mutability",
        "name",
        "reboot_required",
        "supports_monitoring",
        "unit",
        "values_list",
    )

    def __init__(
        self,
        component: str,
        name: str,
        data_type: Data,
        mutability: Mutability,
        default: str = "",
        *,
        unit: str | None = None,
        values_list: str | None = None,
        min_limit: float | None = None,
        max_limit: float | None = None,
        component_instance: str | None = None,
        evse: int | None = None,
        connector: int | None = None,
        instance: str | None = None,
        dynamic: bool = False,
        reboot_required: bool = False,
        constant: bool = False,
        max_set: str | None = None,
        supports_monitoring: bool = False,
    ) -> None:
        self.component = component
        self.component_instance = component_instance
        self.evse = evse
        self.connector = connector
        self.name = name
        self.instance = instance
        self.data_type = data_type
        self.mutability = mutability
        self.default = default
        self.unit = unit
        self.values_list = values_list
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.dynamic = dynamic
        self.reboot_required = reboot_required
        self.constant = constant
        self.max_set = max_set
        self.supports_monitoring = supports_monitoring or data_type in (Data.INTEGER, Data.DECIMAL)
        self.key = key(
            component,
            name,
            component_instance=component_instance,
            evse=evse,
            connector=connector,
            variable_instance=instance,
        )

    @property
    def component_key(self) -> tuple[str, str, int, int]:
        return self.key[:4]

    def component_struct(self) -> Component:
        evse = UNSET_EVSE
        if self.evse is not None:
            evse = EVSE(id=self.evse, connector_id=self.connector) if self.connector is not None else EVSE(id=self.evse)
        if self.component_instance is not None:
            return Component(name=self.component, instance=self.component_instance, evse=evse)
        return Component(name=self.component, evse=evse)

    def variable_struct(self) -> Variable:
        if self.instance is not None:
            return Variable(name=self.name, instance=self.instance)
        return Variable(name=self.name)

    def characteristics(self) -> VariableCharacteristics:
        fields: dict[str, Any] = {"data_type": self.data_type, "supports_monitoring": self.supports_monitoring}
        if self.unit is not None:
            fields["unit"] = self.unit
        if self.values_list is not None:
            fields["values_list"] = self.values_list[:1000]
        if self.min_limit is not None:
            fields["min_limit"] = self.min_limit
        if self.max_limit is not None:
            fields["max_limit"] = self.max_limit
        return VariableCharacteristics(**fields)

    def check(self, value: str) -> tuple[str | None, str]:
        """``(normalized value, "")`` if ``value`` suits this variable, else ``(None, reason code)``."""
        return check_value(self.data_type, value, self.values_list, self.min_limit, self.max_limit)


UNSET_EVSE: Any = msgspec.UNSET

_INT = re.compile(r"^[+-]?\d+$")


def check_value(
    data_type: Data, value: str, values_list: str | None, min_limit: float | None, max_limit: float | None
) -> tuple[str | None, str]:
    """Validate ``value`` for a data type; ``(normalized, "")`` or ``(None, reason code)``."""
    if data_type == Data.INTEGER:
        if not _INT.match(value.strip()):
            return None, "InvalidValue"
        number: float = int(value)
        normalized = str(int(value))
    elif data_type == Data.DECIMAL:
        try:
            number = float(value)
        except ValueError:
            return None, "InvalidValue"
        if number != number or number in (float("inf"), float("-inf")):
            return None, "InvalidValue"
        normalized = value.strip()
    elif data_type == Data.BOOLEAN:
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            return None, "InvalidValue"
        return lowered, ""
    elif data_type == Data.DATE_TIME:
        try:
            datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, "InvalidValue"
        return value.strip(), ""
    elif data_type == Data.OPTION_LIST:
        allowed = _members(values_list)
        if allowed and value not in allowed:
            return None, "InvalidValue"
        return value, ""
    elif data_type in (Data.MEMBER_LIST, Data.SEQUENCE_LIST):
        items = [v.strip() for v in value.split(",")] if value.strip() else []
        allowed = _members(values_list)
        if allowed and any(item not in allowed for item in items):
            return None, "InvalidValue"
        if data_type == Data.MEMBER_LIST and len(set(items)) != len(items):
            return None, "InvalidValue"
        return ",".join(items), ""
    else:  # string: limits are lengths
        if min_limit is not None and len(value) < min_limit:
            return None, "ValueTooShort"
        if max_limit is not None and len(value) > max_limit:
            return None, "ValueTooLong"
        return value, ""
    if min_limit is not None and number < min_limit:
        return None, "ValueTooLow"
    if max_limit is not None and number > max_limit:
        return None, "ValueTooHigh"
    return normalized, ""


def _members(values_list: str | None) -> set[str]:
    return {v.strip() for v in values_list.split(",")} if values_list else set()


class Catalog:
    """Every variable definition of one profile, in report order."""

    def __init__(self, defs: Iterable[VarDef]) -> None:
        self.defs: dict[Key, VarDef] = {}
        self.components: dict[tuple[str, str, int, int], list[VarDef]] = {}
        for d in defs:
            self.defs[d.key] = d
        for d in self.defs.values():
            self.components.setdefault(d.component_key, []).append(d)

    def __iter__(self) -> Iterator[VarDef]:
        return iter(self.defs.values())

    def __len__(self) -> int:
        return len(self.defs)


def _standard(profile: StationProfile) -> list[VarDef]:
    """The standard components and variables, with the profile's values as defaults."""
    S, I, D, B = Data.STRING, Data.INTEGER, Data.DECIMAL, Data.BOOLEAN  # noqa: E741
    OL, ML, SL = Data.OPTION_LIST, Data.MEMBER_LIST, Data.SEQUENCE_LIST
    sd = profile.sampled_data
    backoff = profile.retry_backoff
    phases = max(e.phases for e in profile.evses)
    total_power = sum(e.max_power for e in profile.evses)

    def v(component: str, name: str, dt: Data, mut: Mutability, default: Any = "", **kw: Any) -> VarDef:
        if isinstance(default, bool):
            default = "true" if default else "false"
        return VarDef(component, name, dt, mut, str(default), **kw)

    def measurands(items: Iterable[Any]) -> str:
        return ",".join(str(m) for m in items)

    defs = [
        # ChargingStation (the whole station)
        v("ChargingStation", "AvailabilityState", OL, RO, "Available", values_list=_AVAILABILITY, dynamic=True),
        v("ChargingStation", "Available", B, RO, True, dynamic=True),
        v("ChargingStation", "Model", S, RO, profile.identity.model, constant=True),
        v("ChargingStation", "VendorName", S, RO, profile.identity.vendor, constant=True),
        v("ChargingStation", "SupplyPhases", I, RO, phases, constant=True),
        v("ChargingStation", "Power", D, RO, 0, unit="W", dynamic=True, max_set=str(total_power)),
        v("ChargingStation", "Problem", B, RO, False, dynamic=True),
        # OCPPCommCtrlr
        v("OCPPCommCtrlr", "ActiveNetworkProfile", I, RO, 0, dynamic=True),
        v("OCPPCommCtrlr", "FileTransferProtocols", ML, RO, "HTTP,HTTPS,FTP,FTPS", values_list="FTP,FTPS,HTTP,HTTPS,SFTP"),
        v("OCPPCommCtrlr", "HeartbeatInterval", I, RW, profile.heartbeat_interval, unit="s", min_limit=1, max_limit=86400),
        v("OCPPCommCtrlr", "MessageTimeout", I, RW, profile.message_timeout, unit="s", instance="Default", min_limit=1, max_limit=3600),
        v("OCPPCommCtrlr", "MessageAttemptInterval", I, RW, 10, unit="s", instance="TransactionEvent", min_limit=0, max_limit=3600),
        v("OCPPCommCtrlr", "MessageAttempts", I, RW, 3, instance="TransactionEvent", min_limit=0, max_limit=100),
        v("OCPPCommCtrlr", "NetworkConfigurationPriority", SL, RW, "0", reboot_required=True),
        v("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", I, RW, 3, min_limit=1),
        v("OCPPCommCtrlr", "OfflineThreshold", I, RW, 60, unit="s", min_limit=0),
        v("OCPPCommCtrlr", "QueueAllMessages", B, RW, False),
        v("OCPPCommCtrlr", "ResetRetries", I, RW, 2, min_limit=0),
        v("OCPPCommCtrlr", "RetryBackOffRandomRange", I, RW, backoff.random_range, unit="s", min_limit=0, max_limit=3600),
        v("OCPPCommCtrlr", "RetryBackOffRepeatTimes", I, RW, backoff.repeat_times, min_limit=0, max_limit=30),
        v("OCPPCommCtrlr", "RetryBackOffWaitMinimum", I, RW, backoff.wait_minimum, unit="s", min_limit=0, max_limit=3600),
        v("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", B, RW, True),
        v("OCPPCommCtrlr", "WebSocketPingInterval", I, RW, profile.ping_interval, unit="s", min_limit=0, max_limit=3600),
        # SecurityCtrlr
        v("SecurityCtrlr", "BasicAuthPassword", S, WO, "", min_limit=16, max_limit=40),
        v("SecurityCtrlr", "Identity", S, RO, "", max_limit=48),
        v("SecurityCtrlr", "OrganizationName", S, RW, profile.identity.vendor, max_limit=50),
        v("SecurityCtrlr", "SecurityProfile", I, RO, profile.security.profile, min_limit=0, max_limit=3),
        v("SecurityCtrlr", "CertificateEntries", I, RO, 0, dynamic=True),
        v("SecurityCtrlr", "AdditionalRootCertificateCheck", B, RO, False),
        v("SecurityCtrlr", "MaxCertificateChainSize", I, RO, 5600),
        # TxCtrlr
        v("TxCtrlr", "EVConnectionTimeOut", I, RW, 60, unit="s", min_limit=1, max_limit=86400),
        v("TxCtrlr", "StopTxOnEVSideDisconnect", B, RW, True),
        v("TxCtrlr", "StopTxOnInvalidId", B, RW, True),
        v("TxCtrlr", "TxBeforeAcceptedEnabled", B, RW, False),
        v("TxCtrlr", "TxStartPoint", ML, RW, "EVConnected,Authorized", values_list=_TX_POINTS),
        v("TxCtrlr", "TxStopPoint", ML, RW, "EVConnected,Authorized", values_list=_TX_POINTS),
        v("TxCtrlr", "MaxEnergyOnInvalidId", I, RW, 0, unit="Wh", min_limit=0),
        # SampledDataCtrlr
        v("SampledDataCtrlr", "Enabled", B, RW, True),
        v("SampledDataCtrlr", "SignReadings", B, RW, False),
        v("SampledDataCtrlr", "RegisterValuesWithoutPhases", B, RW, True),
        v("SampledDataCtrlr", "TxStartedMeasurands", ML, RW, measurands(sd.tx_started_measurands), values_list=_MEASURANDS),
        v("SampledDataCtrlr", "TxUpdatedMeasurands", ML, RW, measurands(sd.tx_updated_measurands), values_list=_MEASURANDS),
        v("SampledDataCtrlr", "TxUpdatedInterval", I, RW, sd.tx_updated_interval, unit="s", min_limit=0, max_limit=86400),
        v("SampledDataCtrlr", "TxEndedMeasurands", ML, RW, measurands(sd.tx_ended_measurands), values_list=_MEASURANDS),
        v("SampledDataCtrlr", "TxEndedInterval", I, RW, 0, unit="s", min_limit=0),
        # AlignedDataCtrlr
        v("AlignedDataCtrlr", "Enabled", B, RW, True),
        v("AlignedDataCtrlr", "Interval", I, RW, sd.aligned_interval, unit="s", min_limit=0, max_limit=86400),
        v("AlignedDataCtrlr", "Measurands", ML, RW, measurands(sd.aligned_measurands), values_list=_MEASURANDS),
        v("AlignedDataCtrlr", "SendDuringIdle", B, RW, False),
        v("AlignedDataCtrlr", "SignReadings", B, RW, False),
        v("AlignedDataCtrlr", "TxEndedInterval", I, RW, 0, unit="s", min_limit=0),
        v("AlignedDataCtrlr", "TxEndedMeasurands", ML, RW, measurands(sd.tx_ended_measurands), values_list=_MEASURANDS),
        # AuthCtrlr
        v("AuthCtrlr", "Enabled", B, RW, True),
        v("AuthCtrlr", "AuthorizeRemoteStart", B, RW, False),
        v("AuthCtrlr", "LocalAuthorizeOffline", B, RW, True),
        v("AuthCtrlr", "LocalPreAuthorize", B, RW, False),
        v("AuthCtrlr", "OfflineTxForUnknownIdEnabled", B, RW, False),
        v("AuthCtrlr", "DisableRemoteAuthorization", B, RW, False),
        v("AuthCtrlr", "MasterPassGroupId", S, RW, "", max_limit=36),
        # AuthCacheCtrlr
        v("AuthCacheCtrlr", "Enabled", B, RW, False),
        v("AuthCacheCtrlr", "LifeTime", I, RW, 86400, unit="s", min_limit=0),
        v("AuthCacheCtrlr", "Storage", I, RO, 100, unit="B"),
        v("AuthCacheCtrlr", "Policy", OL, RW, "LRU", values_list="LRU,LFU,FIFO,CUSTOM"),
        # LocalAuthListCtrlr
        v("LocalAuthListCtrlr", "Enabled", B, RW, True),
        v("LocalAuthListCtrlr", "Entries", I, RO, 0, dynamic=True),
        v("LocalAuthListCtrlr", "ItemsPerMessage", I, RO, 100),
        v("LocalAuthListCtrlr", "BytesPerMessage", I, RO, 65000),
        v("LocalAuthListCtrlr", "Storage", I, RO, 1000000, unit="B"),
        v("LocalAuthListCtrlr", "DisablePostAuthorize", B, RW, False),
        # DeviceDataCtrlr
        v("DeviceDataCtrlr", "ItemsPerMessage", I, RO, 50, instance="GetReport"),
        v("DeviceDataCtrlr", "ItemsPerMessage", I, RO, 50, instance="GetVariables"),
        v("DeviceDataCtrlr", "ItemsPerMessage", I, RO, 50, instance="SetVariables"),
        v("DeviceDataCtrlr", "BytesPerMessage", I, RO, 65000, instance="GetReport"),
        v("DeviceDataCtrlr", "BytesPerMessage", I, RO, 65000, instance="GetVariables"),
        v("DeviceDataCtrlr", "BytesPerMessage", I, RO, 65000, instance="SetVariables"),
        v("DeviceDataCtrlr", "ConfigurationValueSize", I, RO, 1000),
        v("DeviceDataCtrlr", "ReportingValueSize", I, RO, 2500),
        v("DeviceDataCtrlr", "ValueSize", I, RO, 2500),
        # ClockCtrlr
        v("ClockCtrlr", "DateTime", Data.DATE_TIME, RO, "", dynamic=True),
        v("ClockCtrlr", "TimeSource", SL, RW, "Heartbeat", values_list="Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter"),
        # SmartChargingCtrlr
        v("SmartChargingCtrlr", "Enabled", B, RW, True),
        v("SmartChargingCtrlr", "Entries", I, RO, 0, instance="ChargingProfiles", dynamic=True),
        v("SmartChargingCtrlr", "LimitChangeSignificance", D, RW, 0.1, min_limit=0, max_limit=1),
        v("SmartChargingCtrlr", "PeriodsPerSchedule", I, RO, 24),
        v("SmartChargingCtrlr", "ProfileStackLevel", I, RO, 8),
        v("SmartChargingCtrlr", "RateUnit", ML, RO, "A,W", values_list="A,W"),
        v("SmartChargingCtrlr", "ExternalControlSignalsEnabled", B, RW, False),
        # ReservationCtrlr
        v("ReservationCtrlr", "Enabled", B, RW, True),
        v("ReservationCtrlr", "NonEvseSpecific", B, RO, True),
        # TariffCostCtrlr
        v("TariffCostCtrlr", "Enabled", B, RW, True, instance="Tariff"),
        v("TariffCostCtrlr", "Enabled", B, RW, True, instance="Cost"),
        v("TariffCostCtrlr", "Currency", S, RW, "EUR", max_limit=3),
        v("TariffCostCtrlr", "TariffFallbackMessage", S, RW, "", max_limit=255),
        v("TariffCostCtrlr", "TotalCostFallbackMessage", S, RW, "", max_limit=255),
        # DisplayMessageCtrlr
        v("DisplayMessageCtrlr", "Enabled", B, RW, True),
        v("DisplayMessageCtrlr", "DisplayMessages", I, RO, 32),
        v("DisplayMessageCtrlr", "SupportedFormats", ML, RO, "ASCII,UTF8", values_list="ASCII,HTML,URI,UTF8"),
        v("DisplayMessageCtrlr", "SupportedPriorities", ML, RO, "AlwaysFront,InFront,NormalCycle",
          values_list="AlwaysFront,InFront,NormalCycle"),
        # MonitoringCtrlr
        v("MonitoringCtrlr", "Enabled", B, RW, True),
        v("MonitoringCtrlr", "ActiveMonitoringBase", OL, RO, "All", values_list="All,FactoryDefault,HardWiredOnly", dynamic=True),
        v("MonitoringCtrlr", "ActiveMonitoringLevel", I, RO, 9, min_limit=0, max_limit=9, dynamic=True),
        v("MonitoringCtrlr", "ItemsPerMessage", I, RO, 50, instance="SetVariableMonitoring"),
        v("MonitoringCtrlr", "ItemsPerMessage", I, RO, 50, instance="ClearVariableMonitoring"),
        v("MonitoringCtrlr", "BytesPerMessage", I, RO, 65000, instance="SetVariableMonitoring"),
        # FirmwareCtrlr (not a standard controller name in 2.0.1 but commonly reported)
        v("FirmwareCtrlr", "FirmwareVersion", S, RO, profile.identity.firmware_version, dynamic=True),
    ]
    for evse_number, evse in enumerate(profile.evses, start=1):
        evse_phases = evse.phases if evse.current_type == "AC" else 0
        defs += [
            v("EVSE", "AvailabilityState", OL, RO, "Available", evse=evse_number, values_list=_AVAILABILITY, dynamic=True),
            v("EVSE", "Available", B, RO, True, evse=evse_number, dynamic=True),
            v("EVSE", "Power", D, RO, 0, unit="W", evse=evse_number, dynamic=True, max_set=str(evse.max_power)),
            v("EVSE", "SupplyPhases", I, RO, evse_phases, evse=evse_number, constant=True),
            v("EVSE", "Problem", B, RO, False, evse=evse_number, dynamic=True),
        ]
        for connector_number, connector in enumerate(evse.connectors, start=1):
            defs += [
                v("Connector", "AvailabilityState", OL, RO, "Available", evse=evse_number,
                  connector=connector_number, values_list=_AVAILABILITY, dynamic=True),
                v("Connector", "Available", B, RO, True, evse=evse_number, connector=connector_number, dynamic=True),
                v("Connector", "ConnectorType", S, RO, str(connector.type), evse=evse_number,
                  connector=connector_number, constant=True),
                v("Connector", "SupplyPhases", I, RO, evse_phases, evse=evse_number, connector=connector_number,
                  constant=True),
                v("Connector", "Problem", B, RO, False, evse=evse_number, connector=connector_number, dynamic=True),
            ]
    for custom in profile.custom_variables:
        defs.append(
            VarDef(
                custom.component,
                custom.variable,
                Data(custom.data_type),
                Mutability(custom.mutability),
                custom.value,
                unit=custom.unit,
                values_list=custom.values_list,
                component_instance=custom.component_instance,
                evse=custom.evse,
                connector=custom.connector if custom.evse is not None else None,
                instance=custom.variable_instance,
            )
        )
    return defs


_OVERRIDE = re.compile(r"^([^.\[\]]+)(?:\[([^\]]+)\])?\.([^.\[\]]+)(?:\[([^\]]+)\])?$")


def _parse_override(name: str) -> Key | None:
    match = _OVERRIDE.match(name.strip())
    if match is None:
        return None
    component, component_instance, variable, variable_instance = match.groups()
    return key(component, variable, component_instance=component_instance, variable_instance=variable_instance)


def _override_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_overrides(profile: StationProfile) -> tuple[str, str] | None:
    """The first bad entry of ``profile.variables`` as ``(name, what is wrong)``, or ``None``."""
    defs = {d.key: d for d in _standard(profile)}
    for name, value in profile.variables.items():
        k = _parse_override(name)
        if k is None:
            return name, 'expected a name like "Component.Variable" or "Component[instance].Variable[instance]"'
        d = defs.get(k)
        if d is None:
            return name, "expected a variable of the device model (no such component/variable)"
        normalized, reason = d.check(_override_value(value))
        if normalized is None:
            expected = f"a {d.data_type} value"
            if d.values_list:
                expected += f" from {d.values_list}"
            return name, f"expected {expected}, got {value!r} ({reason})"
    return None


_catalogs: dict[bytes, Catalog] = {}
_CATALOG_CACHE = 64
#: Catalogs by profile object (a fleet's stations of one group share their profile object:
#: encoding it to find its catalog cost more than the rest of a station's construction);
#: the entry holds the profile, so its id is not reused while it is cached.
_by_identity: dict[int, tuple[StationProfile, Catalog]] = {}


def catalog_for(profile: StationProfile) -> Catalog:
    """The (shared, cached) catalog of a profile, its overrides applied as defaults."""
    known = _by_identity.get(id(profile))
    if known is not None and known[0] is profile:
        return known[1]
    catalog = _catalog_of(profile)
    if len(_by_identity) >= _CATALOG_CACHE:
        _by_identity.pop(next(iter(_by_identity)))
    _by_identity[id(profile)] = (profile, catalog)
    return catalog


def _catalog_of(profile: StationProfile) -> Catalog:
    cache_key = msgspec.json.encode(profile)
    catalog = _catalogs.get(cache_key)
    if catalog is not None:
        return catalog
    defs = _standard(profile)
    by_key = {d.key: d for d in defs}
    for name, value in profile.variables.items():
        k = _parse_override(name)
        d = by_key.get(k) if k is not None else None
        if d is not None:
            normalized, _ = d.check(_override_value(value))
            if normalized is not None:
                d.default = normalized
    catalog = Catalog(defs)
    if len(_catalogs) >= _CATALOG_CACHE:
        _catalogs.pop(next(iter(_catalogs)))
    _catalogs[cache_key] = catalog
    return catalog


def _status_info(reason: str, detail: str = "") -> StatusInfo:
    if detail:
        return StatusInfo(reason_code=reason, additional_info=detail[:512])
    return StatusInfo(reason_code=reason)


def _lookup_key(component: Component, variable: Variable) -> Key:
    evse = component.evse
    evse_id = evse.id if evse is not msgspec.UNSET else None
    connector_id = evse.connector_id if evse is not msgspec.UNSET and evse.connector_id is not msgspec.UNSET else None
    return key(
        component.name,
        variable.name,
        component_instance=component.instance if component.instance is not msgspec.UNSET else None,
        evse=evse_id,
        connector=connector_id,
        variable_instance=variable.instance if variable.instance is not msgspec.UNSET else None,
    )


class DeviceModel:
    """One station's variables: the shared catalog plus this station's own values.

    Args:
        catalog: the profile's catalog (see :func:`catalog_for`).
        provider: asked for the value of *dynamic* variables (returns ``None`` to
            fall back to the stored value).
        values: this station's initial values (key -> value), e.g. its identity.
    """

    __slots__ = ("catalog", "provider", "values")

    def __init__(
        self,
        catalog: Catalog,
        provider: Callable[[Key], str | None] | None = None,
        values: dict[Key, str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.provider = provider
        self.values: dict[Key, str] = values if values is not None else {}

    # --------------------------------------------------------------- typed reads

    def value_of(self, k: Key) -> str:
        d = self.catalog.defs[k]
        if d.dynamic and self.provider is not None:
            dynamic = self.provider(k)
            if dynamic is not None:
                return dynamic
        return self.values.get(k, d.default)

    def get_str(self, component: str, variable: str, instance: str | None = None) -> str:
        return self.value_of(_named(component, variable, instance))

    def get_int(self, component: str, variable: str, instance: str | None = None, default: int = 0) -> int:
        try:
            return int(self.get_str(component, variable, instance))
        except (ValueError, KeyError):
            return default

    def get_float(self, component: str, variable: str, instance: str | None = None, default: float = 0.0) -> float:
        try:
            return float(self.get_str(component, variable, instance))
        except (ValueError, KeyError):
            return default

    def get_bool(self, component: str, variable: str, instance: str | None = None) -> bool:
        try:
            return self.get_str(component, variable, instance).lower() == "true"
        except KeyError:
            return False

    def get_list(self, component: str, variable: str, instance: str | None = None) -> list[str]:
        try:
            raw = self.get_str(component, variable, instance)
        except KeyError:
            return []
        return [item.strip() for item in raw.split(",") if item.strip()]

    def put(self, component: str, variable: str, value: str, instance: str | None = None) -> None:
        """Store a value the station itself decided (no validation, any mutability)."""
        k = _named(component, variable, instance)
        d = self.catalog.defs[k]
        if value == d.default:
            self.values.pop(k, None)
        else:
            self.values[k] = value

    # ------------------------------------------------------ Get/SetVariables

    def get(self, data: GetVariableData) -> GetVariableResult:
        """Answer one GetVariableData."""
        attribute = data.attribute_type if data.attribute_type is not msgspec.UNSET else Attribute.ACTUAL
        k = _lookup_key(data.component, data.variable)
        d = self.catalog.defs.get(k)
        status: GetVariableStatus
        value: str | None = None
        info: StatusInfo | None = None
        if d is None:
            status = (
                GetVariableStatus.UNKNOWN_VARIABLE
                if k[:4] in self.catalog.components
                else GetVariableStatus.UNKNOWN_COMPONENT
            )
        elif attribute == Attribute.ACTUAL:
            if d.mutability == WO:
                status, info = GetVariableStatus.REJECTED, _status_info("WriteOnly")
            else:
                status, value = GetVariableStatus.ACCEPTED, self.value_of(k)
        elif attribute == Attribute.MAX_SET and d.max_set is not None:
            status, value = GetVariableStatus.ACCEPTED, d.max_set
        else:
            status = GetVariableStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE
        fields: dict[str, Any] = {"attribute_status": status, "component": data.component, "variable": data.variable}
        if data.attribute_type is not msgspec.UNSET:
            fields["attribute_type"] = data.attribute_type
        if value is not None:
            fields["attribute_value"] = value[:2500]
        if info is not None:
            fields["attribute_status_info"] = info
        return GetVariableResult(**fields)

    def set(self, data: SetVariableData) -> tuple[SetVariableResult, VarDef | None]:
        """Apply one SetVariableData; return the result and, if a value changed, its definition."""
        attribute = data.attribute_type if data.attribute_type is not msgspec.UNSET else Attribute.ACTUAL
        k = _lookup_key(data.component, data.variable)
        d = self.catalog.defs.get(k)
        changed: VarDef | None = None
        info: StatusInfo | None = None
        status: SetVariableStatus
        if d is None:
            status = (
                SetVariableStatus.UNKNOWN_VARIABLE
                if k[:4] in self.catalog.components
                else SetVariableStatus.UNKNOWN_COMPONENT
            )
        elif attribute != Attribute.ACTUAL:
            status = SetVariableStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE
        elif d.mutability == RO:
            status, info = SetVariableStatus.REJECTED, _status_info("ReadOnly")
        elif len(data.attribute_value) > self._configuration_value_size():
            status, info = SetVariableStatus.REJECTED, _status_info("ValueTooLong")
        else:
            normalized, reason = d.check(data.attribute_value)
            if normalized is None:
                status, info = SetVariableStatus.REJECTED, _status_info(reason, f"not a valid {d.data_type} value")
            else:
                if normalized == d.default and d.mutability != WO:
                    self.values.pop(k, None)
                else:
                    self.values[k] = normalized
                changed = d
                status = SetVariableStatus.REBOOT_REQUIRED if d.reboot_required else SetVariableStatus.ACCEPTED
        fields: dict[str, Any] = {"attribute_status": status, "component": data.component, "variable": data.variable}
        if data.attribute_type is not msgspec.UNSET:
            fields["attribute_type"] = data.attribute_type
        if info is not None:
            fields["attribute_status_info"] = info
        return SetVariableResult(**fields), changed

    def _configuration_value_size(self) -> int:
        try:
            return int(self.value_of(key("DeviceDataCtrlr", "ConfigurationValueSize")))
        except (KeyError, ValueError):
            return 1000

    # ---------------------------------------------------------------- reports

    def report_data(self, d: VarDef) -> ReportData:
        """The ReportData of one variable (no value for WriteOnly ones)."""
        fields: dict[str, Any] = {"type": Attribute.ACTUAL, "mutability": d.mutability, "persistent": True,
                                  "constant": d.constant}
        if d.mutability != WO:
            fields["value"] = self.value_of(d.key)[:2500]
        attributes = [VariableAttribute(**fields)]
        if d.max_set is not None:
            attributes.append(VariableAttribute(type=Attribute.MAX_SET, value=d.max_set, mutability=RO, constant=True))
        return ReportData(
            component=d.component_struct(),
            variable=d.variable_struct(),
            variable_attribute=attributes,
            variable_characteristics=d.characteristics(),
        )

    def base_report(self, base: ReportBase) -> list[ReportData]:
        """The ReportData of a GetBaseReport."""
        if base == ReportBase.FULL_INVENTORY:
            selected: Iterable[VarDef] = self.catalog
        elif base == ReportBase.CONFIGURATION_INVENTORY:
            selected = (d for d in self.catalog if d.mutability != RO)
        else:  # SummaryInventory: availability and problems of the station, EVSEs and connectors
            selected = (
                d
                for d in self.catalog
                if d.component in ("ChargingStation", "EVSE", "Connector")
                and d.name in ("AvailabilityState", "Available", "Problem")
            )
        return [self.report_data(d) for d in selected]

    def custom_report(
        self,
        component_variables: list[ComponentVariable] | None,
        criteria: list[ComponentCriterion] | None,
    ) -> list[ReportData]:
        """The ReportData of a GetReport: variables matching any of ``component_variables``
        (all if none) of components matching any of ``criteria`` (all if none)."""
        selected: list[VarDef] = []
        for d in self.catalog:
            if component_variables and not any(_matches(d, cv) for cv in component_variables):
                continue
            if criteria and not self._meets_criteria(d, criteria):
                continue
            selected.append(d)
        return [self.report_data(d) for d in selected]

    def _meets_criteria(self, d: VarDef, criteria: list[ComponentCriterion]) -> bool:
        variables = self.catalog.components.get(d.component_key, [])
        for criterion in criteria:
            wanted = str(criterion).lower()
            for other in variables:
                if other.key[4] == wanted and other.data_type == Data.BOOLEAN and self.value_of(other.key) == "true":
                    return True
        return False

    def components_of(self, name: str) -> list[tuple[str, str, int, int]]:
        """Component keys with this name."""
        lowered = name.lower()
        return [c for c in self.catalog.components if c[0] == lowered]


def _matches(d: VarDef, cv: ComponentVariable) -> bool:
    component = cv.component
    if d.key[0] != component.name.lower():
        return False
    if component.instance is not msgspec.UNSET and d.key[1] != component.instance.lower():
        return False
    if component.evse is not msgspec.UNSET:
        if d.key[2] != component.evse.id:
            return False
        if component.evse.connector_id is not msgspec.UNSET and d.key[3] != component.evse.connector_id:
            return False
    variable = cv.variable
    if variable is not msgspec.UNSET:
        if d.key[4] != variable.name.lower():
            return False
        if variable.instance is not msgspec.UNSET and d.key[5] != variable.instance.lower():
            return False
    return True
