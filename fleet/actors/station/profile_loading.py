"""Loading a station profile: its format (:func:`fleet.profiles.read_profile`), then its
``[variables]`` checked by the dialect of each version it offers (``ocpp_version``), and
each feature it switches on (V2X, DER control) simulated by one of those versions."""

from __future__ import annotations

from pathlib import Path

from ...profiles import StationProfile, read_profile
from .dialects import FEATURES, VARIABLE_CHECKS

__all__ = ["load_profile"]


def load_profile(path: str | Path) -> StationProfile:
    """Read and validate a station profile (TOML), everything a station will use of it.

    Raises:
        ProfileError: the file cannot be read, is not TOML, a field is wrong, or a
            ``[variables]`` entry is not in the configuration model of the profile's
            OCPP version, or a feature it switches on (an EVSE's ``bidirectional``...) is
            simulated by none of the versions it offers; the message reads
            ``<file>[:line]: `$.field.path`: what was expected``.
    """
    read = read_profile(path)
    offered = read.profile.ocpp_versions
    for version in offered:
        check = VARIABLE_CHECKS.get(version)
        problem = check(read.profile) if check is not None else None
        if problem is not None:
            raise read.variable_error(*problem)
    for feature, field in read.profile.features().items():
        if not any(feature in FEATURES.get(version, ()) for version in offered):
            having = ", ".join(v for v, features in FEATURES.items() if feature in features)
            raise read.field_error(field, f"Expected an `ocpp_version` that simulates {feature} ({having}),"
                                          f" got {', '.join(offered)}")
    return read.profile
