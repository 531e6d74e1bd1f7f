"""Loading a station profile: its format (:func:`fleet.profiles.read_profile`), then its
``[variables]`` checked by the dialect of each version it offers (``ocpp_version``)."""

from __future__ import annotations

from pathlib import Path

from ...profiles import StationProfile, read_profile
from .dialects import VARIABLE_CHECKS

__all__ = ["load_profile"]


def load_profile(path: str | Path) -> StationProfile:
    """Read and validate a station profile (TOML), everything a station will use of it.

    Raises:
        ProfileError: the file cannot be read, is not TOML, a field is wrong, or a
            ``[variables]`` entry is not in the configuration model of the profile's
            OCPP version; the message reads ``<file>[:line]: `$.field.path`: what was expected``.
    """
    read = read_profile(path)
    for version in read.profile.ocpp_versions:
        check = VARIABLE_CHECKS.get(version)
        problem = check(read.profile) if check is not None else None
        if problem is not None:
            raise read.variable_error(*problem)
    return read.profile
