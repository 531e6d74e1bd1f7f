"""The 2.0.1 device model as the station's detail lists it: one
:class:`~fleet.actors.station.snapshots.Setting` per variable of its full base report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ....ocpp.v201 import Mutability, ReportBase
from ..snapshots import Setting

if TYPE_CHECKING:
    from ....ocpp.v201 import ReportData
    from .device_model import DeviceModel

__all__ = ["settings_of"]


def settings_of(model: DeviceModel) -> list[Setting]:
    """Every variable of ``model`` (its Actual value, else its first attribute's)."""
    return [_setting(report) for report in model.base_report(ReportBase.FULL_INVENTORY)]


def _setting(report: ReportData) -> Setting:
    component = report.component
    variable = report.variable
    attributes = report.variable_attribute
    actual = next((a for a in attributes if a.type is msgspec.UNSET or a.type == "Actual"),
                  attributes[0] if attributes else None)
    value = actual.value if actual is not None and actual.value is not msgspec.UNSET else None
    variable_instance = variable.instance if variable.instance is not msgspec.UNSET else None
    instance = component.instance if component.instance is not msgspec.UNSET else None
    evse = component.evse if component.evse is not msgspec.UNSET else None
    return Setting(
        component=str(component.name),
        variable=str(variable.name) + (f"[{variable_instance}]" if variable_instance else ""),
        value=None if value is None else str(value),
        readonly=actual is not None and actual.mutability == Mutability.READ_ONLY,
        instance=str(instance) if instance else None,
        evse_id=int(evse.id) if evse is not None else None,
    )
