"""One station: its detail (polled at 2 Hz) and its live OCPP frame log."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input

from ...control.messages import ControlEvent, StationDetail, SubscribeResult
from ..widgets import FrameLog, KeyBar, OrderedInput, StationDetailView, StatusLine
from .station_actions import STATION_BINDINGS, StationActions

__all__ = ["StationScreen"]


class StationScreen(StationActions, Screen[None]):
    """Detail and frames of ``station_id`` (``source``: whose side of the frames to show)."""

    NEEDS_ROWS = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back"),
        Binding("space", "pause", "pause/resume"),
        Binding("slash", "search", "search"),
        Binding("y", "copy", "copy frames"),
        Binding("w", "save", "save frames"),
        *STATION_BINDINGS,
    ]

    def __init__(self, station_id: str, source: str = "auto") -> None:
        super().__init__()
        self.station_id = station_id
        self.source = source
        self.subscription: str | None = None
        self.detail: StationDetail | None = None
        self.saved_to: Path | None = None
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-box"):
            yield StationDetailView(Text(f"{self.station_id}: loading…"), id="detail")
        yield OrderedInput(placeholder="search frames (enter: apply, esc: back)", id="frame-search", classes="hidden")
        log = FrameLog(id="frames")
        log.border_title = f"OCPP frames of {self.station_id}"
        yield log
        yield StatusLine(id="status")
        yield KeyBar()

    def current_station_id(self) -> str | None:
        return self.station_id

    def on_mount(self) -> None:
        self.query_one(FrameLog).focus()
        self._subscribe()
        self.set_interval(0.5, self._poll)
        self._poll()

    def on_unmount(self) -> None:
        self.dashboard.remove_event_sink(self.station_id)
        if self.subscription is not None:
            self.dashboard.send_command("unsubscribe", quiet=True, subscription=self.subscription)

    @work(group="subscribe")
    async def _subscribe(self) -> None:
        log = self.query_one(FrameLog)
        self.dashboard.add_event_sink(self.station_id, self.on_control_event)
        result = await self.dashboard.control("subscribe", station_id=self.station_id, source=self.source)
        if isinstance(result, SubscribeResult):
            self.subscription = result.subscription
        else:
            log.border_subtitle = "no frames: subscription refused"

    def on_control_event(self, event: ControlEvent) -> None:
        """Called by the app for each event of this station (no Textual message per frame)."""
        self.query_one(FrameLog).add(event)

    @work(group="detail")
    async def _poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            await self._poll_once()
        finally:
            self._polling = False

    async def _poll_once(self) -> None:
        detail = await self.dashboard.control("station", quiet=True, station_id=self.station_id)
        # The answer can arrive after this screen's widgets are gone (closed, or the app quit, while the
        # command was in flight; the worker is cancelled only after the children are unmounted): drop it then.
        if isinstance(detail, StationDetail):
            self.detail = detail
            for view in self.query(StationDetailView):
                view.show(detail)
        for log in self.query(FrameLog):
            state = "paused" if log.paused else "live"
            search = f" · search {log.search!r}" if log.search else ""
            for line in self.query(StatusLine):
                line.show(f"{len(log.lines):,} frames ({state}){search} · {self.dashboard.model.status}")

    def action_back(self) -> None:
        search = self.query_one("#frame-search", Input)
        if search.has_focus:
            search.add_class("hidden")
            self.query_one(FrameLog).focus()
            return
        self.dismiss()

    def action_pause(self) -> None:
        log = self.query_one(FrameLog)
        log.set_paused(not log.paused)
        log.border_subtitle = "paused" if log.paused else ""

    def action_search(self) -> None:
        search = self.query_one("#frame-search", Input)
        search.remove_class("hidden")
        search.focus()

    @on(Input.Submitted, "#frame-search")
    def _search(self, event: Input.Submitted) -> None:
        self.query_one(FrameLog).set_search(event.value)
        self.query_one(FrameLog).focus()

    def action_copy(self) -> None:
        text = self.query_one(FrameLog).shown_text()
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text.count(chr(10)) + 1 if text else 0} frames to the clipboard")

    def action_save(self) -> None:
        path = Path(f"fleet-frames-{self.station_id}.log").resolve()
        path.write_text(self.query_one(FrameLog).shown_text() + "\n", encoding="utf-8")
        self.saved_to = path
        self.notify(f"frames written to {path}")
