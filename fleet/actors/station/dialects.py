"""The registry of station dialects: OCPP version name -> dialect (one registration per
version). A profile's ``ocpp_version`` picks the dialect of its stations."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .dialect import DialectFactory
from .v201.dialect import V201Dialect

__all__ = ["DIALECTS", "dialect_factory"]

#: version name -> the factory of its dialect
DIALECTS: Final[Mapping[str, DialectFactory]] = MappingProxyType({
    V201Dialect.version: V201Dialect,
})


def dialect_factory(version: str) -> DialectFactory:
    """The dialect of ``version``; ``ValueError`` when the station cannot speak it."""
    factory = DIALECTS.get(version)
    if factory is None:
        raise ValueError(f"unsupported OCPP version {version!r}; supported: {', '.join(DIALECTS)}")
    return factory

