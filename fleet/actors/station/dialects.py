"""The registry of station dialects: OCPP version name -> dialect (one registration per
version). A profile's ``ocpp_version`` picks the dialect of its stations, and the check of
its ``[variables]`` against that version's configuration model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from ...profiles import StationProfile
from .dialect import DialectFactory
from .v16.configuration import check_overrides as check_v16_configuration
from .v16.dialect import V16Dialect
from .v21.dialect import V21Dialect
from .v201.device_model import check_overrides as check_v201_variables
from .v201.dialect import V201Dialect

__all__ = ["DIALECTS", "FEATURES", "VARIABLE_CHECKS", "VariableCheck", "dialect_factory"]

#: ``check(profile)`` -> the first bad ``[variables]`` entry as ``(name, what is wrong)``, or None
VariableCheck = Callable[[StationProfile], "tuple[str, str] | None"]

#: version name -> the factory of its dialect
DIALECTS: Final[Mapping[str, DialectFactory]] = MappingProxyType({
    V21Dialect.version: V21Dialect,
    V201Dialect.version: V201Dialect,
    V16Dialect.version: V16Dialect,
})

#: version name -> the check of a profile's ``[variables]`` against its configuration model
VARIABLE_CHECKS: Final[Mapping[str, VariableCheck]] = MappingProxyType({
    V21Dialect.version: check_v201_variables,  # (2.1 keeps 2.0.1's device model)
    V201Dialect.version: check_v201_variables,
    V16Dialect.version: check_v16_configuration,
})

#: version name -> the profile features (:meth:`~fleet.profiles.StationProfile.features`) its dialect simulates
FEATURES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    V21Dialect.version: V21Dialect.features,
    V201Dialect.version: frozenset(),
    V16Dialect.version: frozenset(),
})


def dialect_factory(version: str) -> DialectFactory:
    """The dialect of ``version``; ``ValueError`` when the station cannot speak it."""
    factory = DIALECTS.get(version)
    if factory is None:
        raise ValueError(f"unsupported OCPP version {version!r}; supported: {', '.join(DIALECTS)}")
    return factory

