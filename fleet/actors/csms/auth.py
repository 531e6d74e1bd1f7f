"""Credentials the CSMS checks: the station auth list and the id-token list.

**Auth list** (``fleet csms --auth-file F``): station id -> HTTP Basic password
(OCPP security profiles 1 and 2; the Basic user must be the station id of the
path). TOML, with the passwords in a ``[stations]`` table::

    [stations]
    CS001 = "a-long-secret-password"
    "CS 002" = "another-secret"

or JSON, either a plain object or the same ``stations`` object::

    {"CS001": "a-long-secret-password", "CS 002": "another-secret"}
    {"stations": {"CS001": "a-long-secret-password"}}

The format is chosen by the file's suffix (``.toml`` or ``.json``); any other
suffix is tried as JSON, then as TOML.

**Id-token list** (``fleet csms --id-tokens F``): id token -> how Authorize and
TransactionEvent answer it. A value is a status (``Accepted``, ``Invalid``,
``Blocked``, ``Expired``, ``Unknown``, ``ConcurrentTx``, ``NoCredit``,
``NotAllowedTypeEVSE``, ``NotAtThisLocation``, ``NotAtThisTime``) or a table with
``status`` (default ``Accepted``), ``group`` (the group id token) and ``expires``
(an RFC 3339 date-time; a token past it is answered ``Expired``)::

    [tokens]
    "04A2B3C4" = "Accepted"
    STOLEN01 = "Blocked"
    FLEET-A-1 = { status = "Accepted", group = "FLEET-A" }
    OLDCARD = { expires = 2024-01-01T00:00:00Z }

    {"tokens": {"04A2B3C4": "Accepted", "FLEET-A-1": {"group": "FLEET-A"}}}

Id tokens are case-insensitive, as OCPP defines them.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "AuthFileError",
    "IdTokenEntry",
    "TokenStatus",
    "load_auth_file",
    "load_id_tokens",
    "parse_auth_list",
    "parse_id_tokens",
]

#: OCPP's idToken is a string of at most 36 characters.
_MAX_ID_TOKEN = 36


class TokenStatus(StrEnum):
    """How the CSMS answers an id token, whatever the OCPP version (the statuses of
    OCPP 2.0.1's ``AuthorizationStatus``; each dialect answers with its version's own)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


_STATUSES = ", ".join(s.value for s in TokenStatus)


class AuthFileError(ValueError):
    """A credentials file is missing, unreadable or not in the documented format.

    The message names the file and says what was expected.
    """


class IdTokenEntry(msgspec.Struct, frozen=True):
    """How the CSMS answers one id token.

    Attributes:
        status: the ``idTokenInfo.status`` given while the token has not expired.
        group_id: the group id token (``idTokenInfo.groupIdToken``), if any.
        expires: when the token expires (timezone-aware); past it the answer is ``Expired``.
    """

    status: TokenStatus = TokenStatus.ACCEPTED
    group_id: str | None = None
    expires: datetime.datetime | None = None

    def status_at(self, now: datetime.datetime) -> TokenStatus:
        """The status to answer at ``now``."""
        if self.expires is not None and now >= self.expires:
            return TokenStatus.EXPIRED
        return self.status


def _read(path: str | Path, what: str) -> Any:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuthFileError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    errors = []
    for kind in ("toml", "json") if suffix == ".toml" else ("json", "toml"):
        try:
            if kind == "json":
                return json.loads(data)
            return tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            errors.append(f"not valid {kind.upper()} ({exc})")
            if suffix in (".toml", ".json"):
                break
    raise AuthFileError(f"{path}: the {what} is " + "; ".join(errors))


def _table(document: Any, key: str, source: str, example: str) -> Mapping[Any, Any]:
    if isinstance(document, Mapping) and isinstance(document.get(key), Mapping):
        return document[key]  # type: ignore[no-any-return]
    if isinstance(document, Mapping):
        return document
    raise AuthFileError(f"{source}: expected a table/object like {example}, got {type(document).__name__}")


def parse_auth_list(document: Any, source: str = "auth list") -> dict[str, str]:
    """Check an auth list (``{station id: password}``, or ``{"stations": {...}}``).

    Raises:
        AuthFileError: naming ``source`` and the offending entry.
    """
    table = _table(document, "stations", source, '[stations] CS001 = "secret" / {"CS001": "secret"}')
    auth: dict[str, str] = {}
    for station_id, password in table.items():
        if not isinstance(station_id, str) or not station_id:
            raise AuthFileError(f"{source}: station ids must be non-empty strings, got {station_id!r}")
        if ":" in station_id:
            raise AuthFileError(
                f"{source}: station id {station_id!r} contains ':', which an HTTP Basic user name cannot carry"
            )
        if not isinstance(password, str) or not password:
            raise AuthFileError(
                f"{source}: the password of station {station_id!r} must be a non-empty string, "
                f"got {type(password).__name__}"
            )
        auth[station_id] = password
    return auth


def load_auth_file(path: str | Path) -> dict[str, str]:
    """Read an auth list file (TOML or JSON, see the module docstring).

    Raises:
        AuthFileError: the file cannot be read or is not in the format.
    """
    return parse_auth_list(_read(path, "auth file"), str(path))


def _expiry(value: Any, where: str) -> datetime.datetime:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise AuthFileError(f"{where}: 'expires' is not an RFC 3339 date-time: {value!r}") from None
    if not isinstance(value, datetime.datetime):
        raise AuthFileError(f"{where}: 'expires' must be a date-time, got {type(value).__name__}")
    if value.tzinfo is None:
        raise AuthFileError(f"{where}: 'expires' needs a timezone (e.g. 2025-01-01T00:00:00Z)")
    return value


def _status(value: Any, where: str) -> TokenStatus:
    try:
        return TokenStatus(value)
    except ValueError:
        raise AuthFileError(f"{where}: unknown status {value!r}; expected one of {_STATUSES}") from None


def _entry(value: Any, where: str) -> IdTokenEntry:
    if isinstance(value, IdTokenEntry):
        return value
    if isinstance(value, str):
        return IdTokenEntry(_status(value, where))
    if not isinstance(value, Mapping):
        raise AuthFileError(f"{where}: expected a status string or a table with status/group/expires")
    unknown = set(value) - {"status", "group", "expires"}
    if unknown:
        raise AuthFileError(f"{where}: unknown keys {sorted(unknown)}; expected status, group, expires")
    group = value.get("group")
    if group is not None and (not isinstance(group, str) or not 0 < len(group) <= _MAX_ID_TOKEN):
        raise AuthFileError(f"{where}: 'group' must be a string of 1 to {_MAX_ID_TOKEN} characters")
    expires = value.get("expires")
    return IdTokenEntry(
        _status(value.get("status", "Accepted"), where),
        group,
        _expiry(expires, where) if expires is not None else None,
    )


def parse_id_tokens(document: Any, source: str = "id-token list") -> dict[str, IdTokenEntry]:
    """Check an id-token list and key it by case-folded token.

    ``document`` is ``{token: status | {status, group, expires} | IdTokenEntry}``,
    or the same under a ``"tokens"`` key.

    Raises:
        AuthFileError: naming ``source`` and the offending token.
    """
    table = _table(document, "tokens", source, '[tokens] TAG1 = "Accepted" / {"TAG1": "Accepted"}')
    tokens: dict[str, IdTokenEntry] = {}
    for token, value in table.items():
        if not isinstance(token, str) or len(token) > _MAX_ID_TOKEN:
            raise AuthFileError(f"{source}: id tokens are strings of at most {_MAX_ID_TOKEN} characters, got {token!r}")
        tokens[token.casefold()] = _entry(value, f"{source}: token {token!r}")
    return tokens


def load_id_tokens(path: str | Path) -> dict[str, IdTokenEntry]:
    """Read an id-token list file (TOML or JSON, see the module docstring).

    Raises:
        AuthFileError: the file cannot be read or is not in the format.
    """
    return parse_id_tokens(_read(path, "id-token file"), str(path))
