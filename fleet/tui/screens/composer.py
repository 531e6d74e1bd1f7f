"""The request composer: pick an OCPP action, edit its JSON payload, validate, send, see the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from ...control.messages import SendResult
from ..model import Verdict, payload_skeleton, validate_payload, version_named
from ..widgets.key_bar import KeyBar
from ..widgets.ordered_input import OrderedInput

if TYPE_CHECKING:
    from ..app import FleetDashboard

__all__ = ["ComposerScreen"]


class ComposerScreen(ModalScreen[SendResult | None]):
    """Send any OCPP request as a station (``send``) or as the CSMS (``csms_send``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"),
        Binding("ctrl+s", "send", "send"),
        Binding("ctrl+t", "validate", "validate"),  # (ctrl+v, kept, pastes where the focus is in a text field)
        Binding("ctrl+v", "validate", "validate", show=False),
    ]

    def __init__(self, station_id: str | None = None, target: str = "station", action: str = "Heartbeat",
                 ocpp_version: str = "") -> None:
        super().__init__()
        self.station_id = station_id or ""
        self.target = target if target in ("station", "csms") else "station"
        #: the station's OCPP version: its actions and request types (the first fleet speaks if unknown)
        self.version = version_named(ocpp_version)
        self.action = action if action in self.version.actions else "Heartbeat"
        self.result: SendResult | None = None

    @property
    def dashboard(self) -> FleetDashboard:
        return cast("FleetDashboard", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="composer-box"):
            yield Label("[b]Send an OCPP request[/b]")
            with Horizontal(classes="composer-row"):
                yield Select([("as the station", "station"), ("as the CSMS", "csms")], value=self.target,
                             allow_blank=False, id="composer-target")
                yield OrderedInput(self.station_id, placeholder="station id", id="composer-station")
                yield Select([(a, a) for a in sorted(self.version.actions)], value=self.action, allow_blank=False,
                             id="composer-action")
            with Horizontal(classes="composer-row"):
                yield OrderedInput(placeholder="message id (default: a UUID)", id="composer-message-id")
                yield OrderedInput(placeholder="tag (JSON or text, returned with the answer)", id="composer-tag")
            yield TextArea(self._skeleton(self.action), id="composer-payload")
            yield Static("", id="composer-verdict")
            with Horizontal(classes="buttons"):
                yield Button("Validate", id="composer-validate")
                yield Button("Send", variant="primary", id="composer-send")
                yield Button("Close", id="composer-close")
            yield Static("", id="composer-response")
        yield KeyBar()

    def _skeleton(self, action: str) -> str:
        return msgspec.json.format(msgspec.json.encode(payload_skeleton(action, self.version)).decode(), indent=2)

    @on(Select.Changed, "#composer-action")
    def _action_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.action:
            self.action = event.value
            self.query_one("#composer-payload", TextArea).text = self._skeleton(self.action)
            self.query_one("#composer-verdict", Static).update("")
            self.query_one("#composer-response", Static).update("")  # it answered another request

    @on(Input.Changed, "#composer-station")
    def _station_changed(self, event: Input.Changed) -> None:
        """Another station may speak another version: offer its actions."""
        version = version_named(self.dashboard.model.table.ocpp_version_of(event.value.strip()))
        if version is self.version:
            return
        self.version = version
        if self.action not in version.actions:
            self.action = "Heartbeat"
            self.query_one("#composer-payload", TextArea).text = self._skeleton(self.action)
        self.query_one("#composer-action", Select).set_options((a, a) for a in sorted(version.actions))
        self.query_one("#composer-action", Select).value = self.action

    @on(Select.Changed, "#composer-target")
    def _target_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.target = event.value

    def check(self) -> tuple[Verdict, str, dict[str, Any] | None]:
        """Validate the payload against the action's request type and show the verdict."""
        verdict, message, payload = validate_payload(self.action, self.query_one("#composer-payload", TextArea).text,
                                                   self.version)
        style = "green" if verdict is Verdict.OK else "red"
        self.query_one("#composer-verdict", Static).update(Text(message, style=style))
        if verdict is not Verdict.OK:  # the response shown answered an earlier payload, not this one
            self.query_one("#composer-response", Static).update("")
        return verdict, message, payload

    def action_validate(self) -> None:
        self.check()

    def action_send(self) -> None:
        verdict, _, payload = self.check()
        if verdict is not Verdict.OK or payload is None:
            return
        station_id = self.query_one("#composer-station", Input).value.strip()
        if not station_id:
            self.query_one("#composer-verdict", Static).update(Text("which station?", style="red"))
            return
        fields: dict[str, Any] = {"station_id": station_id, "action": self.action, "payload": payload}
        message_id = self.query_one("#composer-message-id", Input).value.strip()
        if message_id:
            fields["message_id"] = message_id
        tag_text = self.query_one("#composer-tag", Input).value.strip()
        if tag_text:
            try:
                fields["tag"] = msgspec.json.decode(tag_text.encode())
            except msgspec.DecodeError:
                fields["tag"] = tag_text
        self._send("csms_send" if self.target == "csms" else "send", fields)

    @work(exclusive=True, group="composer-send")
    async def _send(self, command: str, fields: dict[str, Any]) -> None:
        response = self.query_one("#composer-response", Static)
        response.update(Text(f"sending {fields['action']} to {fields['station_id']}…"))
        result = await self.dashboard.control(command, **fields)
        if not isinstance(result, SendResult):
            response.update(Text("not sent (see the notification)", style="red"))
            return
        self.result = result
        body = result.response if result.outcome == "response" else result.error
        text = msgspec.json.format(msgspec.json.encode(body).decode(), indent=2)
        style = "green" if result.outcome == "response" else "red"
        response.update(Text.assemble(
            (result.outcome, style), f" message id {result.message_id} tag ",
            msgspec.json.encode(result.tag).decode(), "\n", text,
        ))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "composer-validate":
            self.check()
        elif event.button.id == "composer-send":
            self.action_send()
        else:
            self.dismiss(self.result)

    def action_close(self) -> None:
        self.dismiss(self.result)
