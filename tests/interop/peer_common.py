# mypy: disable-error-code="untyped-decorator,misc"
"""What the two ocpp-package peers (``ocpp_csms_peer.py``, ``ocpp_station_peer.py``) share.

The peers are small asyncio programs built on the ``ocpp`` PyPI package (an
implementation independent of fleet) and ``websockets``. They talk to the test
through JSON lines:

* stdout, one event per line: ``{"event": "recv", "station_id", "frame", "schema_errors"}``
  for every frame received, ``{"event": "sent", ...}`` for every frame sent, and
  the peer's own events (``listening``, ``connected``, ``disconnected``, ``result``);
* stdin, one command per line: ``{"id": 1, "station_id": "CS1", "action": "GetVariables",
  "payload": {...camelCase payload...}}`` (or ``{"id": 2, "raw": "<any text>"}``, sent as
  it is, unchecked) sends that CALL with ``ChargePoint.call``
  (which validates the request and the answer against the official schemas of the
  peer's version) and prints ``{"event": "result", "id": 1, "ok": true, "payload": {...}}``
  (the raw answer) or ``{"event": "result", "id": 1, "ok": false, "error": ...}``.

:class:`RecordingChargePoint` speaks 2.0.1, or the version the ``OCPP_PEER_VERSION``
environment variable names (``2.1``): its ``ocpp`` module (``ChargePoint``, ``call``,
``call_result``), subprotocol and schemas; :class:`RecordingChargePoint16` speaks 1.6.

Besides the ``ocpp`` package's own validation (JSON schema draft 4, no formats),
every CALL and CALLRESULT received is checked here against the same schemas with
formats (``date-time``) enforced; what fails is listed in ``schema_errors``.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import ocpp
from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as call_result16

#: The ``ocpp`` package's module of each OCPP version.
_MODULES = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}
#: The OCPP version of :class:`RecordingChargePoint` (1.6 has its own class), and its module.
VERSION = os.environ.get("OCPP_PEER_VERSION", "2.0.1")
_MODULE = _MODULES[VERSION]
_package = importlib.import_module(f"ocpp.{_MODULE}")
ChargePoint = _package.ChargePoint
call = importlib.import_module(f"ocpp.{_MODULE}.call")
call_result = importlib.import_module(f"ocpp.{_MODULE}.call_result")
SUBPROTOCOL = f"ocpp{VERSION}"
SCHEMAS = Path(ocpp.__file__).parent / _MODULE / "schemas"


def schemas_of(version: str) -> Path:
    """The official schemas of OCPP ``version`` the ``ocpp`` package ships."""
    return Path(ocpp.__file__).parent / _MODULES[version] / "schemas"
_validators: dict[str, Any] = {}


def emit(**event: Any) -> None:
    """Print one event as a JSON line."""
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def strict_errors(kind: str, action: str, payload: Any, version: str = VERSION) -> list[str]:
    """What is wrong with ``payload`` of ``action`` (``kind`` ``Request`` or ``Response``),
    per the official schema of OCPP ``version`` with formats checked."""
    key = f"{version}/{action}{kind}"
    validator = _validators.get(key)
    if validator is None:
        schemas = schemas_of(version)
        path = schemas / f"{action}{kind}.json"
        if not path.exists() and kind == "Request":
            path = schemas / f"{action}.json"  # OCPP 1.6 names a request's schema after its action
        if not path.exists():
            return [f"no schema {action}{kind}"]
        schema = json.loads(path.read_text(encoding="utf-8-sig"))
        cls = jsonschema.validators.validator_for(schema)
        validator = _validators[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '$'}: {error.message}"
        for error in validator.iter_errors(payload)
    ]


class RecordingChargePoint(ChargePoint):
    """An ocpp-package endpoint that reports every frame and runs stdin commands (OCPP
    :data:`VERSION`; another version: a subclass with that version's ``_call``,
    ``_call_result`` and ``_ocpp_version``, as :class:`RecordingChargePoint16`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.our_calls: dict[str, str] = {}
        self.answers: dict[str, Any] = {}

    async def route_message(self, raw_msg: Any) -> None:
        try:
            frame = json.loads(raw_msg)
        except ValueError:
            emit(event="recv", station_id=self.id, raw=str(raw_msg), schema_errors=["not JSON"])
            await super().route_message(raw_msg)
            return
        errors: list[str] = []
        if isinstance(frame, list) and frame:
            if frame[0] == 2 and len(frame) == 4:
                errors = strict_errors("Request", frame[2], frame[3], self._ocpp_version)
            elif frame[0] == 3 and len(frame) == 3:
                action = self.our_calls.get(frame[1])
                self.answers[frame[1]] = frame[2]
                errors = (strict_errors("Response", action, frame[2], self._ocpp_version) if action
                          else ["answer to an unknown CALL"])
            elif frame[0] == 4:
                self.answers[frame[1]] = frame
        emit(event="recv", station_id=self.id, frame=frame, schema_errors=errors)
        await super().route_message(raw_msg)

    async def _send(self, message: Any) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            emit(event="sent", station_id=self.id, raw=message)
        else:
            if isinstance(frame, list) and len(frame) > 2 and frame[0] == 2:
                self.our_calls[frame[1]] = frame[2]
            emit(event="sent", station_id=self.id, frame=frame)
        await super()._send(message)

    async def execute(self, command: dict[str, Any]) -> None:
        """Send the command's CALL and report its outcome (``raw``: send that text as it is)."""
        if "raw" in command:
            await self._send(command["raw"])
            emit(event="result", id=command["id"], ok=True, payload=None)
            return
        action = command["action"]
        message_id = command.get("message_id") or str(uuid.uuid4())
        try:
            request = getattr(self._call, action)(**camel_to_snake_case(command.get("payload", {})))
            await self.call(request, suppress=False, unique_id=message_id)
        except OCPPError as exc:
            emit(event="result", id=command["id"], ok=False, error=type(exc).__name__, description=str(exc))
        except TimeoutError:
            emit(event="result", id=command["id"], ok=False, error="Timeout")
        except Exception as exc:
            emit(event="result", id=command["id"], ok=False, error=type(exc).__name__, description=str(exc))
        else:
            emit(event="result", id=command["id"], ok=True, payload=self.answers.get(message_id))

    def send_soon(self, action: str, payload: dict[str, Any], then: Any = None) -> None:
        """Send a CALL of our own in the background (after answering a request); ``then(answer)``
        once it is answered."""

        async def send() -> None:
            try:
                request = getattr(self._call, action)(**camel_to_snake_case(payload))
                answer = await self.call(request, suppress=False)
                if then is not None:
                    then(answer)
            except Exception as exc:
                emit(event="own_call_failed", station_id=self.id, action=action, error=repr(exc))

        task = asyncio.ensure_future(send())
        _background.add(task)
        task.add_done_callback(_background.discard)


class RecordingChargePoint16(RecordingChargePoint):
    """The same, speaking OCPP 1.6 (the ``ocpp`` package's charge point keeps all it needs of a
    version in these three attributes, as its ``ocpp.v16.ChargePoint`` sets them)."""

    _call = call16
    _call_result = call_result16
    _ocpp_version = "1.6"


_background: set[asyncio.Future[Any]] = set()


async def read_commands(run: Any) -> None:
    """Run ``await run(command)`` for every JSON line on stdin, in order, until EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        if not line.strip():
            continue
        command = json.loads(line)
        if command.get("action") == "quit":
            return
        await run(command)
