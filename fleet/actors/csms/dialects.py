"""The CSMS's dialects, one per OCPP version it speaks: adding a version is one line here.

The CSMS serves every version of :data:`DIALECTS` on one port, and picks each
connection's dialect from the subprotocol negotiated in its handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from . import v16, v21, v201
from .dialect import CsmsDialect

__all__ = ["DIALECTS", "dialects_by_version"]


def dialects_by_version(*dialects: CsmsDialect) -> Mapping[str, CsmsDialect]:
    """``dialects`` keyed by version name (e.g. ``"2.0.1"``), in the order given (of preference).

    Raises:
        ValueError: two dialects of one version, or of one subprotocol.
    """
    by_version: dict[str, CsmsDialect] = {}
    subprotocols: set[str] = set()
    for dialect in dialects:
        version = dialect.version
        if version.name in by_version or version.subprotocol in subprotocols:
            raise ValueError(f"two CSMS dialects for OCPP {version.name} ({version.subprotocol})")
        by_version[version.name] = dialect
        subprotocols.add(version.subprotocol)
    return MappingProxyType(by_version)


#: Every OCPP version the CSMS speaks: version name -> dialect, in order of preference.
DIALECTS: Final = dialects_by_version(v21.DIALECT, v201.DIALECT, v16.DIALECT)
