"""Schema constraints msgspec cannot check by itself, for the generated payload types.

* :data:`URI_PATTERN`: JSON schema's ``format: uri`` (OCPP 1.6's firmware and
  diagnostics locations), an absolute URI as RFC 3986 section 3 defines it, as a
  regular expression for ``msgspec.Meta(pattern=...)``. It follows the RFC's grammar
  (scheme, authority with user info, host and port, path, query, fragment, and
  percent-encoding) except that an IPv6 literal is only checked to be hexadecimal
  digits, colons and dots between brackets.
* :func:`check_multiple_of`: JSON schema's ``multipleOf`` on numbers (OCPP 1.6's
  charging limits are multiples of 0.1), called from a generated ``__post_init__``.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Final

from msgspec import UnsetType

__all__ = ["URI_PATTERN", "check_multiple_of"]

_PCT: Final = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB_DELIMS: Final = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR: Final = rf"(?:[{_UNRESERVED_SUB_DELIMS}:@]|{_PCT})"
_USERINFO: Final = rf"(?:[{_UNRESERVED_SUB_DELIMS}:]|{_PCT})*"
_HOST: Final = (
    r"(?:\[[0-9A-Fa-f:.]+\]"  # IP-literal (IPv6, loosely)
    rf"|\[[vV][0-9A-Fa-f]+\.[{_UNRESERVED_SUB_DELIMS}:]+\]"  # IPvFuture
    rf"|(?:[{_UNRESERVED_SUB_DELIMS}]|{_PCT})*)"  # reg-name (IPv4 addresses included)
)
_AUTHORITY: Final = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_HIER_PART: Final = (
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*"  # "//" authority path-abempty
    rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"  # path-absolute
    rf"|{_PCHAR}+(?:/{_PCHAR}*)*"  # path-rootless
    r"|)"  # path-empty
)
#: An absolute URI (RFC 3986: ``scheme ":" hier-part [ "?" query ] [ "#" fragment ]``).
URI_PATTERN: Final = (
    rf"^[A-Za-z][A-Za-z0-9+\-.]*:{_HIER_PART}(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?\Z"
)


def check_multiple_of(value: float | UnsetType, step: str, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a whole multiple of ``step`` (or unset).

    Decimal arithmetic on the number as written: a float decoded from JSON ``16.3``
    is checked as 16.3 (its shortest round-tripping text), so 0.3 is a multiple of
    0.1 as OCPP means it, though not in binary floating point. msgspec turns the
    ``ValueError`` of a ``__post_init__`` into a ``ValidationError`` located at the
    object; its message starts "Invalid value" so that the session answers it
    PropertyConstraintViolation, as any value outside its constraints.
    """
    if isinstance(value, UnsetType):
        return
    number = Decimal(repr(value))
    if not number.is_finite():
        raise ValueError(f"Invalid value: `{name}` must be a finite number")
    with localcontext() as exact:
        # enough digits for the quotient of any float (up to 1e308) by a small step; the
        # default 28 made 1e27 % 0.1 an InvalidOperation
        exact.prec = 400
        remainder = number % Decimal(step)
    if remainder:
        raise ValueError(f"Invalid value: `{name}` must be a multiple of {step}, got {value!r}")
