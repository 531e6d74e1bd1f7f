"""A fleet of busy stations for the tests that start ``fleet run`` in a child process: each
station starts a session at once and charges for an hour, protocol timings 30 times faster."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUSY_PROFILE", "ONLINE", "write_busy_fleet"]

BUSY_PROFILE = """
name = "busy"
heartbeat_interval = 30
[security]
profile = 0
[[evses]]
max_power = 22000
[sessions]
start_delay = 0
idle_time = [1, 2]
session_duration = [3000, 4000]
plug_in_delay = [0, 1]
id_tokens = [{ id_token = "OK-1" }]
"""
#: Station states of a station that is online.
ONLINE = ("available", "charging", "occupied")


def write_busy_fleet(where: Path, *, count: int, seed: int, station_id: str) -> Path:
    """Write the profile and a fleet file of ``count`` busy stations (ids ``station_id`` with
    ``{index:04d}`` appended; no duration: the run goes on until stopped) into ``where``."""
    (where / "busy.toml").write_text(BUSY_PROFILE)
    fleet = where / "fleet.toml"
    fleet.write_text(f'[fleet]\nseed = {seed}\nramp = 1000\nduration = 0\nspeed = 30\n\n'
                     f'[[group]]\nprofile = "busy.toml"\ncount = {count}\nstation_id = "{station_id}{{index:04d}}"\n')
    return fleet
