"""One station in detail: state, EVSEs and connectors, transactions, errors, and its settings:
the device-model variables of a 2.0.1 station, the configuration keys of a 1.6 one. What only
some stations have is shown where the detail carries it: an EVSE's export register and a
discharging transaction (V2X), the cost of its transaction (local cost), the DER controls."""

from __future__ import annotations

import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...control.messages import CostInfo, EvseInfo, StationDetail
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

        v2x = any(evse.export_wh is not None for evse in detail.evses)
        costs = any(evse.cost is not None for evse in detail.evses)
        evses = Table(title="EVSEs", title_justify="left", expand=True, box=None, header_style="bold")
        titles = ["EVSE", "connectors", "transaction", "kW", "kWh", "SoC %", "token"]
        titles += ["V2X"] if v2x else []
        titles += ["cost"] if costs else []
        for title in titles:
            evses.add_column(title)
        for evse in detail.evses:
            tx = evse.transaction
            cells = [
                str(evse.id),
                "  ".join(f"{c.id}:{c.status}" for c in evse.connectors) or "-",
                tx.id if tx else "-",
                f"{tx.power_w / 1000:.1f}" if tx else "",
                f"{tx.energy_wh / 1000:.2f}" if tx else "",
                f"{tx.soc:.0f}" if tx and tx.soc is not None else "",
                (tx.id_token or "") if tx else "",
            ]
            cells += [self._v2x(evse)] if v2x else []
            cells += [self._cost(evse.cost)] if costs else []
            evses.add_row(*map(Text, cells))
        if not detail.evses:
            evses.add_row("-", "(none reported)", *([""] * (len(titles) - 2)))

        variables = self._settings(detail)

        errors = Text("Last errors\n", style="bold")
        for e in detail.errors[-10:]:
            errors.append(f"{_when(e.at)} ", style="dim")
            errors.append(e.message + "\n", style="red")
        if not detail.errors:
            errors.append("none\n", style="green")
        parts: list[Text | Table] = [head, Text(""), evses, Text("")]
        if detail.der_controls is not None:
            parts += [self._der(detail), Text("")]
        self.update(Group(*parts, errors, variables))

    @staticmethod
    def _v2x(evse: EvseInfo) -> str:
        """The export register, and whether its vehicle discharges now (negative power)."""
        if evse.export_wh is None:
            return ""
        tx = evse.transaction
        discharging = "discharging, " if tx is not None and tx.power_w < 0 else ""
        return f"{discharging}exported {evse.export_wh / 1000:.2f} kWh"

    @staticmethod
    def _cost(cost: CostInfo | None) -> str:
        """The transaction's cost: including tax where given, final or running."""
        if cost is None:
            return ""
        total = cost.incl_tax if cost.incl_tax is not None else cost.excl_tax
        value = f"{total:.2f}" if total is not None else "?"
        kind = "final" if cost.final else "running"
        bound = f" {cost.type_of_cost}" if cost.type_of_cost != "NormalCost" else ""
        return f"{value} {cost.currency} {kind}{bound}"

    @staticmethod
    def _der(detail: StationDetail) -> Table:
        """The DER controls the station holds: id, type, active (in force), default or scheduled."""
        der = Table(title="DER controls", title_justify="left", expand=True, box=None, header_style="bold")
        for title in ("control", "type", "active", "kind"):
            der.add_column(title)
        for c in detail.der_controls or []:
            kind = ("default" if c.is_default else "scheduled") + (", superseded" if c.superseded else "")
            der.add_row(Text(c.id), Text(c.type), Text("yes" if c.active else "no",
                                                       style="green" if c.active else "dim"), Text(kind))
        if not detail.der_controls:
            der.add_row("-", "(none set)", "", "")
        return der

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
