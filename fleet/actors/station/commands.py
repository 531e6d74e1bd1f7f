"""The commands a station's mailbox takes (what its public ``async`` methods send).

Frozen msgspec Structs, version-free: evse and connector numbers, token text, reasons
as the OCPP names; the station's dialect turns them into its version's types.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "Close",
    "Connect",
    "Plug",
    "ResetStation",
    "SetFaulted",
    "SetRetryBackoff",
    "Shutdown",
    "StartTransaction",
    "StopTransaction",
    "Unplug",
]


class Connect(msgspec.Struct, frozen=True):
    """Connect (or reconnect at once), optionally to a new URL, password or station id."""

    url: str | None = None
    password: str | None = None
    station_id: str | None = None


class Close(msgspec.Struct, frozen=True):
    """Disconnect and stop reconnecting until the next :class:`Connect`."""


class SetRetryBackoff(msgspec.Struct, frozen=True):
    """Change the reconnection back-off (the OCPPCommCtrlr RetryBackOff* variables)."""

    wait_minimum: int | None = None
    repeat_times: int | None = None
    random_range: int | None = None


class Plug(msgspec.Struct, frozen=True):
    """A vehicle plugs into a connector."""

    evse_id: int
    connector_id: int = 1


class Unplug(msgspec.Struct, frozen=True):
    """The vehicle unplugs from an EVSE (from ``connector_id``, if given: it must be the one in use)."""

    evse_id: int
    connector_id: int | None = None


class StartTransaction(msgspec.Struct, frozen=True):
    """A driver presents a token at an EVSE (authorization, then charging)."""

    evse_id: int
    id_token: str
    token_type: str = "ISO14443"
    authorize: bool = True
    connector_id: int | None = None


class StopTransaction(msgspec.Struct, frozen=True):
    """The driver stops the transaction on an EVSE."""

    evse_id: int
    reason: str = "Local"


class ResetStation(msgspec.Struct, frozen=True):
    """Reboot the station (``Immediate``) or once its transactions ended (``OnIdle``)."""

    type: str = "Immediate"
    reason: str = "LocalReset"


class SetFaulted(msgspec.Struct, frozen=True):
    """Mark a connector faulted (or clear the fault)."""

    evse_id: int
    connector_id: int = 1
    faulted: bool = True


class Shutdown(msgspec.Struct, frozen=True):
    """End transactions, deliver what is queued (within ``timeout``), close and stop."""

    timeout: float = 5.0
