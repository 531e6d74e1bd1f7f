"""The driver: the automatic transaction generator of a station (version-free).

With ``[sessions] enabled`` in the profile, each EVSE loops: idle, a vehicle arrives and
plugs in, the driver presents a token (now and then an invalid one), charges for the
session's duration, stops (by token or by unplugging) and leaves. Every delay is drawn
from the profile and counts in simulated time (the station's ``speed``). The driver
acts through :class:`DriverTarget`, the station's commands; what those mean in OCPP
is the dialect's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...profiles import IdTokenSpec, StationProfile, draw
from .hardware import EvseState
from .random_stream import StationRandom

__all__ = ["Driver", "DriverTarget"]


class DriverTarget(Protocol):
    """What the driver does to a station."""

    @property
    def profile(self) -> StationProfile: ...

    @property
    def stopping(self) -> bool: ...

    def station_operative(self) -> bool: ...

    def sim_timer(self, name: Any, seconds: float, callback: Callable[[], None]) -> None: ...

    def cancel_timer(self, name: Any) -> None: ...

    def plug_vehicle(self, evse: EvseState, connector_id: int = 1) -> None: ...

    def unplug_vehicle(self, evse: EvseState) -> None: ...

    def present_token(self, evse: EvseState, id_token: str, token_type: str, *,
                      on_rejected: Callable[[], None] | None = None) -> None: ...

    def stop_by_driver(self, evse: EvseState) -> None: ...


class Driver:
    """The session generator of one station.

    Args:
        station: the station it drives.
        rng: the station's random stream (the same one: a seed gives the same sessions).
    """

    __slots__ = ("rng", "running", "station")

    def __init__(self, station: DriverTarget, rng: StationRandom) -> None:
        self.station = station
        self.rng = rng
        #: generating sessions (from the first accepted boot until a reboot or shutdown)
        self.running = False

    def start(self, evses: list[EvseState], first: bool) -> None:
        """Start generating sessions on every EVSE (``first``: the first boot: start delays)."""
        if self.station.profile.sessions.enabled and not self.running:
            self.running = True
            for evse in evses:
                self.idle(evse, first=first)

    def stop(self, evses: list[EvseState]) -> None:
        """No more sessions (shutdown): cancel the timers of every EVSE."""
        self.running = False
        for evse in evses:
            self.station.cancel_timer(("atg", evse.id))
            self.station.cancel_timer(("atg-end", evse.id))

    def transaction_ended(self, evse: EvseState) -> None:
        """A transaction ended with the vehicle still plugged: it leaves after a while."""
        if self.station.profile.sessions.enabled and self.running and evse.plugged is not None:
            self.station.cancel_timer(("atg-end", evse.id))
            if evse.atg_phase != "leaving":
                evse.atg_phase = "leaving"
                self.station.sim_timer(("atg", evse.id), draw(self.rng, self.station.profile.sessions.plug_out_delay),
                                       lambda: self.leave(evse))

    def remote_start(self, evse: EvseState) -> None:
        """A remote start on an idle EVSE: a vehicle comes to it after the plug-in delay."""
        if self.station.profile.sessions.enabled and self.running and evse.plugged is None \
                and evse.atg_phase == "idle":
            evse.atg_phase = "arriving"
            self.station.sim_timer(("atg", evse.id), draw(self.rng, self.station.profile.sessions.plug_in_delay),
                                   lambda: self.arrive_for_remote(evse))

    def idle(self, evse: EvseState, first: bool = False) -> None:
        """The EVSE is free: the next vehicle arrives after an idle time (the start delay the first time)."""
        sessions = self.station.profile.sessions
        evse.atg_phase = "idle"
        delay = draw(self.rng, sessions.start_delay if first else sessions.idle_time)
        self.station.sim_timer(("atg", evse.id), delay, lambda: self.arrive(evse))

    def arrive(self, evse: EvseState) -> None:
        if self.station.stopping:
            return
        if not evse.free or not (evse.operative and self.station.station_operative()):
            self.station.sim_timer(("atg", evse.id), max(5.0, draw(self.rng, self.station.profile.sessions.idle_time) / 4),
                           lambda: self.arrive(evse))
            return
        sessions = self.station.profile.sessions
        connector = 1 + self.rng.randrange(len(evse.connectors))
        evse.atg_phase = "plugged"
        self.station.plug_vehicle(evse, connector)
        self.station.sim_timer(("atg", evse.id), draw(self.rng, sessions.plug_in_delay), lambda: self._present(evse))
        self.station.sim_timer(("atg-end", evse.id), draw(self.rng, sessions.session_duration),
                       lambda: self._session_end(evse))

    def arrive_for_remote(self, evse: EvseState) -> None:
        """A remote start authorized the EVSE: the vehicle arrives (unless one is there)."""
        if evse.plugged is not None or evse.authorized is None:
            if evse.atg_phase == "arriving":
                self.idle(evse)
            return
        evse.atg_phase = "charging"
        self.station.plug_vehicle(evse, 1)
        self.station.sim_timer(("atg-end", evse.id), draw(self.rng, self.station.profile.sessions.session_duration),
                       lambda: self._session_end(evse))

    def pick_token(self, invalid: bool) -> IdTokenSpec:
        """A token of the profile's (weighted draw), valid or invalid."""
        sessions = self.station.profile.sessions
        tokens = sessions.invalid_id_tokens if invalid else sessions.id_tokens
        weights = [t.weight for t in tokens]
        return self.rng.choices(tokens, weights=weights)[0]

    def _present(self, evse: EvseState) -> None:
        if evse.plugged is None or evse.authorized is not None:
            return
        invalid = self.rng.random() < self.station.profile.sessions.authorization_failure_share
        evse.atg_phase = "authorizing"
        spec = self.pick_token(invalid)
        self.station.present_token(evse, spec.id_token, spec.type, on_rejected=lambda: self._rejected(evse))

    def authorized(self, evse: EvseState) -> None:
        """The driver's token was accepted: charging; this session ends by unplugging or not."""
        if evse.atg_phase in ("authorizing", "plugged"):
            evse.atg_phase = "charging"
            evse.atg_stop_by_unplug = self.rng.random() < self.station.profile.sessions.stop_by_unplug_share

    def _rejected(self, evse: EvseState) -> None:
        if evse.plugged is None:
            if self.running and evse.atg_phase != "idle":
                self.idle(evse)
            return
        self.station.cancel_timer(("atg-end", evse.id))
        evse.atg_phase = "leaving"
        self.station.sim_timer(("atg", evse.id), draw(self.rng, self.station.profile.sessions.plug_out_delay),
                       lambda: self.leave(evse))

    def _session_end(self, evse: EvseState) -> None:
        if evse.plugged is None:
            if self.running and evse.atg_phase != "idle":
                self.idle(evse)
            return
        if evse.tx is not None and evse.authorized is not None:
            if evse.atg_stop_by_unplug:
                self.leave(evse)
            else:
                self.station.stop_by_driver(evse)
                if evse.plugged is not None and evse.atg_phase != "leaving":
                    self._rejected(evse)
        else:
            self.leave(evse)

    def leave(self, evse: EvseState) -> None:
        """The vehicle leaves (unplugs); the EVSE is idle again."""
        self.station.cancel_timer(("atg-end", evse.id))
        if evse.plugged is not None:
            self.station.unplug_vehicle(evse)
        if evse.authorized is not None and evse.tx is None:
            evse.authorized = None
        if self.running and not self.station.stopping:
            self.idle(evse)
