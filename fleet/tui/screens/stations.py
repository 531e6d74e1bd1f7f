"""The stations table with its filter, sort keys and station actions."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from ..model import COLUMNS, DashboardModel, connector_legend
from ..widgets import KeyBar, OrderedInput, StationsTable, StatusLine
from .station_actions import STATION_BINDINGS, StationActions

__all__ = ["SORT_KEYS", "StationsScreen"]

#: Sort keys: 1-9 and 0 sort by the first ten columns (again: reverse); < and > step through all.
SORT_KEYS = "1234567890"


class StationsScreen(StationActions, Screen[None]):
    """Every station, one line each (20,000 stay fast: only visible lines are drawn)."""

    NEEDS_ROWS = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "filter"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        # 1-0 show as one key in the bar (sort); ? lists each with its column
        Binding(SORT_KEYS[0], f"sort('{COLUMNS[0].key}')", "sort", key_display=f"{SORT_KEYS[0]}-{SORT_KEYS[-1]}",
                tooltip=f"{SORT_KEYS[0]} by {COLUMNS[0].title}, 2-0 by the next columns; again: reverse"),
        *(Binding(k, f"sort('{c.key}')", f"sort by {c.title}", show=False)
          for k, c in zip(SORT_KEYS[1:], COLUMNS[1:], strict=False)),
        Binding("less_than_sign", "cycle_sort(-1)", "sort ←", show=False),
        Binding("greater_than_sign", "cycle_sort(1)", "sort →", show=False),
        Binding("minus", "reverse_sort", "reverse", show=False),
        *STATION_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._model: DashboardModel | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield OrderedInput(placeholder="filter: CS00 state:charging,faulted profile:ac ocpp:1.6 error:timeout  (/ to focus, esc to clear)",
                    id="filter")
        yield StationsTable(self.dashboard.model.table, id="stations")
        yield Static(connector_legend(), id="conn-legend")
        yield StatusLine(id="status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(StationsTable).focus()
        self.refresh_model(self.dashboard.model)

    @property
    def table(self) -> StationsTable:
        return self.query_one(StationsTable)

    def current_station_id(self) -> str | None:
        return self.table.current_id

    def refresh_model(self, model: DashboardModel) -> None:
        self._model = model
        self.table.refresh_rows()
        self._show_status()

    def _show_status(self) -> None:
        model = self.dashboard.model
        table = model.table
        direction = "▼" if table.reverse else "▲"
        self.query_one(StatusLine).show(
            f"{len(table.view):,} of {len(table.rows):,} stations · sort {table.sort_key} {direction} · "
            f"filter/sort {table.last_update_ms:.1f} ms · poll {model.last_poll_ms:.0f} ms · {model.status}"
        )

    def _changed(self) -> None:
        """A new sort or filter: show it from the top."""
        self.table.reset_cursor()
        self._show_status()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value != self.dashboard.model.table.filter_text:
            self.dashboard.model.table.set_filter(event.value)
            self._changed()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_stations_table_selected(self, event: StationsTable.Selected) -> None:
        self.dashboard.open_station(event.station_id)

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        if self.dashboard.model.table.filter_text:  # at once, in this frame (the Changed message comes later)
            self.dashboard.model.table.set_filter("")
            self._changed()
        self.query_one("#filter", Input).value = ""
        self.table.focus()

    def action_sort(self, key: str) -> None:
        self.dashboard.model.table.set_sort(key)
        self._changed()

    def action_cycle_sort(self, step: int) -> None:
        self.dashboard.model.table.cycle_sort(step)
        self._changed()

    def action_reverse_sort(self) -> None:
        table = self.dashboard.model.table
        table.set_sort(table.sort_key, reverse=not table.reverse)
        self._changed()
