"""How the CSMS answers stations, whatever their OCPP version: the settings its handlers follow.

The :class:`~fleet.actors.csms.Csms` owns one :class:`CsmsPolicy` and changes it
through its setters (boot status, heartbeat interval, id-token list...); every
dialect's default handlers read it at each CALL, so a change applies at once to
stations of every version.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Final

from .auth import IdTokenEntry, TokenStatus

__all__ = [
    "DEFAULT_BOOT_RETRY_INTERVAL",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "CsmsPolicy",
    "Registration",
    "check_interval",
]

#: Seconds between heartbeats the CSMS asks for when it accepts a station.
DEFAULT_HEARTBEAT_INTERVAL: Final = 300
#: Seconds a station not Accepted must wait before its next BootNotification.
DEFAULT_BOOT_RETRY_INTERVAL: Final = 30


class Registration(StrEnum):
    """The registration status a station gets at boot (the same three in every OCPP version)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class CsmsPolicy:
    """How the default handlers answer; owned by the CSMS, changed through its setters.

    Args:
        boot_status: the registration status given to every station.
        heartbeat_interval: the ``interval`` of an Accepted BootNotificationResponse.
        boot_retry_interval: the ``interval`` of a Pending or Rejected one.
        id_tokens: the id-token list (case-folded token -> entry; see
            :func:`fleet.actors.csms.auth.parse_id_tokens`), ``None`` for none.
        unknown_token_status: the status of a token not in the list; ``None``
            means Accepted without a list and Unknown with one.
        data_transfer_vendors: vendor ids whose DataTransfer is Accepted.
        transaction_ids: ``(first, step)`` of the transaction ids the CSMS assigns in the
            versions where it names transactions (1.6): ``first``, ``first + step``, ...;
            several processes serving as one CSMS count in disjoint sequences
            (process ``i`` of ``n``: ``(i + 1, n)``).

    Raises:
        ValueError: a status or interval that is not one.
    """

    def __init__(
        self,
        *,
        boot_status: str = Registration.ACCEPTED,
        heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL,
        boot_retry_interval: int = DEFAULT_BOOT_RETRY_INTERVAL,
        id_tokens: Mapping[str, IdTokenEntry] | None = None,
        unknown_token_status: str | None = None,
        data_transfer_vendors: Collection[str] = (),
        transaction_ids: tuple[int, int] = (1, 1),
    ) -> None:
        self.boot_status = Registration(boot_status)
        self.boot_status_of: dict[str, Registration] = {}
        self.heartbeat_interval = check_interval(heartbeat_interval, "heartbeat_interval")
        self.boot_retry_interval = check_interval(boot_retry_interval, "boot_retry_interval")
        self.id_tokens: dict[str, IdTokenEntry] | None = dict(id_tokens) if id_tokens is not None else None
        self.unknown_token_status = TokenStatus(unknown_token_status) if unknown_token_status is not None else None
        self.data_transfer_vendors = frozenset(data_transfer_vendors)
        if len(transaction_ids) != 2 or not all(_whole(n) and n >= 1 for n in transaction_ids):
            raise ValueError(f"transaction_ids must be (first, step), whole numbers >= 1, got {transaction_ids!r}")
        self.transaction_ids = (transaction_ids[0], transaction_ids[1])

    def registration_for(self, station_id: str) -> Registration:
        """The registration status station ``station_id`` gets at boot."""
        return self.boot_status_of.get(station_id, self.boot_status)

    def token_entry(self, id_token: str) -> IdTokenEntry | None:
        """The list's entry for ``id_token`` (case-insensitive), ``None`` if it has none (or there is no list)."""
        tokens = self.id_tokens
        return tokens.get(id_token.casefold()) if tokens is not None else None

    def unknown_status(self) -> TokenStatus:
        """The status of a token the list does not have: the policy's, else Accepted
        without a list and Unknown with one."""
        status = self.unknown_token_status
        if status is None:
            return TokenStatus.ACCEPTED if self.id_tokens is None else TokenStatus.UNKNOWN
        return status


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_interval(value: int, name: str) -> int:
    """``value`` if it is a whole number of seconds >= 0, else ``ValueError`` naming ``name``."""
    if not _whole(value) or value < 0:
        raise ValueError(f"{name} must be a whole number of seconds >= 0, got {value!r}")
    return value
