"""One station in detail: state, EVSEs and connectors, transactions, errors, and its settings:
the device-model variables of a 2.0.1 station, the configuration keys of a 1.6 one."""

from __future__ import annotations

import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...control.messages import StationDetail
from .state_counts import STATE_COLORS

__all__ = ["StationDetailView"]

#: Settings shown at most (the rest are summarised).
MAX_VARIABLES = 40


def _when(at: float | None) -> str:
    if not at:
        return ""
    return datetime.datetime.fromtimestamp(at).strftime("%H:%M:%S")


class StationDetailView(Static):
    """Renders a :class:`~fleet.control.messages.StationDetail`."""

    def show(self, detail: StationDetail) -> None:
        row = detail.row
        head = Text()
        head.append(row.id, style="bold")
        head.append("  ")
        head.append(row.state, style=STATE_COLORS.get(row.state, "bold"))
        head.append(" ")
        if row.profile:
            head.append(f"   profile {row.profile}")
        if detail.url:
            head.append(f"  → {detail.url}", style="dim")
        if detail.ocpp_version:
            head.append(f"  OCPP {detail.ocpp_version}", style="dim")
        figures = {"reconnects": row.reconnects, "queued events": row.queued}
        if detail.counters:
            figures.update({name.replace("_", " "): n for name, n in detail.counters.items()})
        else:
            figures.update({"calls": row.calls, "errors": row.errors})
        head.append("\n" + "  ".join(f"{name} {n:,}" for name, n in figures.items()), style="dim")

        evses = Table(title="EVSEs", title_justify="left", expand=True, box=None, header_style="bold")
        for title in ("EVSE", "connectors", "transaction", "kW", "kWh", "SoC %", "token"):
            evses.add_column(title)
        for evse in detail.evses:
            tx = evse.transaction
            evses.add_row(*map(Text, (
                str(evse.id),
                "  ".join(f"{c.id}:{c.status}" for c in evse.connectors) or "-",
                tx.id if tx else "-",
                f"{tx.power_w / 1000:.1f}" if tx else "",
                f"{tx.energy_wh / 1000:.2f}" if tx else "",
                f"{tx.soc:.0f}" if tx and tx.soc is not None else "",
                (tx.id_token or "") if tx else "",
            )))
        if not detail.evses:
            evses.add_row("-", "(none reported)", "", "", "", "", "")

        variables = self._settings(detail)

        errors = Text("Last errors\n", style="bold")
        for e in detail.errors[-10:]:
            errors.append(f"{_when(e.at)} ", style="dim")
            errors.append(e.message + "\n", style="red")
        if not detail.errors:
            errors.append("none\n", style="green")
        self.update(Group(head, Text(""), evses, Text(""), errors, variables))

    @staticmethod
    def _settings(detail: StationDetail) -> Table:
        """The device model (component, variable, value), or, when the settings have no
        components (OCPP 1.6), the configuration keys (key, value, read-only)."""
        shown = detail.variables[:MAX_VARIABLES]
        if detail.variables and not any(v.component for v in detail.variables):
            keys = Table(title="Configuration keys", title_justify="left", expand=True, box=None,
                         header_style="bold")
            for title in ("key", "value", "access"):
                keys.add_column(title)
            for v in shown:
                keys.add_row(Text(v.variable), Text(v.value if v.value is not None else ""),
                             Text("read-only" if v.readonly else "read-write"))
            if len(detail.variables) > MAX_VARIABLES:
                keys.add_row("…", f"{len(detail.variables) - MAX_VARIABLES} more", "")
            return keys
        variables = Table(title="Device model", title_justify="left", expand=True, box=None, header_style="bold")
        variables.add_column("component")
        variables.add_column("variable")
        variables.add_column("value")
        for v in shown:
            component = v.component + (f"[{v.instance}]" if v.instance else "") + (f" evse {v.evse_id}" if v.evse_id else "")
            variables.add_row(Text(component), Text(v.variable), Text(v.value if v.value is not None else ""))
        if len(detail.variables) > MAX_VARIABLES:
            variables.add_row("…", f"{len(detail.variables) - MAX_VARIABLES} more", "")
        if not detail.variables:
            variables.add_row("-", "(none reported)", "")
        return variables
