"""A form for a control command's fields, built from the command's Struct."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...control.messages import COMMANDS
from ..one_line import one_line
from ..widgets.ordered_input import OrderedInput

__all__ = ["CommandForm", "command_fields", "parse_field"]


def _kind(info: Any) -> str:
    t = msgspec.inspect
    if isinstance(info, t.Metadata):
        return _kind(info.type)
    if isinstance(info, t.UnionType):
        kinds = [_kind(o) for o in info.types if not isinstance(o, t.NoneType)]
        return kinds[0] if kinds else "any"
    if isinstance(info, t.IntType):
        return "int"
    if isinstance(info, t.FloatType):
        return "float"
    if isinstance(info, t.BoolType):
        return "bool"
    if isinstance(info, t.StrType):
        return "str"
    if isinstance(info, t.LiteralType):
        return "str"
    if isinstance(info, t.ListType):
        return "list"
    if isinstance(info, t.DictType):
        return "json"
    return "json"


def command_fields(command: str) -> list[tuple[str, str, bool, Any]]:
    """(name, kind, required, default) of each field of ``command`` but ``id``."""
    info = msgspec.inspect.type_info(COMMANDS[command])
    out = []
    for field in info.fields:  # type: ignore[attr-defined]
        if field.name == "id":
            continue
        default = None if field.default is msgspec.NODEFAULT else field.default
        if field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        out.append((field.name, _kind(field.type), field.required, default))
    return out


def parse_field(kind: str, text: str) -> Any:
    """The value of a form field (``ValueError`` when it does not parse)."""
    text = text.strip()
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "y", "on"):
            return True
        if text.lower() in ("0", "false", "no", "n", "off"):
            return False
        raise ValueError(f"{text!r} is not true or false")
    if kind == "list":
        return [part for part in text.replace(",", " ").split() if part]
    if kind == "json":
        try:
            return msgspec.json.decode(text.encode())
        except msgspec.DecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
    return text


def _shown(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "list":
        return " ".join(str(v) for v in value)
    if kind == "json":
        return msgspec.json.encode(value).decode()
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


class CommandForm(ModalScreen[dict[str, Any] | None]):
    """Ask for a command's fields; dismiss with them (``None`` if cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, command: str, values: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.command = command
        self.values = values or {}
        self.fields = command_fields(command)

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Label(Text.assemble((self.command, "bold"), "  ", one_line(COMMANDS[self.command].__doc__)))
            for name, kind, required, default in self.fields:
                value = self.values.get(name, default)
                yield Label(f"{name} ({kind}{', required' if required else ''})", classes="form-label")
                yield OrderedInput(_shown(kind, value), placeholder=kind, id=f"field-{name}")
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="primary", id="form-send")
                yield Button("Cancel", id="form-cancel")

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        empty = next((i for i in inputs if not i.value), None)
        (empty or (inputs[0] if inputs else self.query_one("#form-send", Button))).focus()

    def values_or_error(self) -> dict[str, Any] | str:
        out: dict[str, Any] = {}
        for name, kind, required, _ in self.fields:
            text = self.query_one(f"#field-{name}", Input).value
            if not text.strip():
                if required and kind != "json":
                    return f"{name} is required"
                if required:
                    out[name] = None
                continue
            try:
                out[name] = parse_field(kind, text)
            except ValueError as exc:
                return f"{name}: {exc}"
        return out

    def _submit(self) -> None:
        result = self.values_or_error()
        if isinstance(result, str):
            self.query_one("#form-error", Static).update(Text(result, style="red"))
            return
        self.dismiss(result)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "form-send":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
