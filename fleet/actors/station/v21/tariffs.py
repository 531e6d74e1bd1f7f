"""The default tariffs of one OCPP 2.1 station, per EVSE (use cases I07, I09, I10):
:class:`TariffStore`, and :func:`refusal`, the checks a tariff passes before the station
takes it.

A tariff set on EVSE 0 is installed on every EVSE (I07.FR.12). Which of an EVSE's
tariffs is in force (I07.FR.19-23): those whose ``validFrom`` has come (or that have
none); of these the one with the latest ``validFrom`` (none counts as the earliest),
the last installed among equals; it replaces the others, which are dropped. A
transaction keeps the tariff it started with (its cost meter holds it), whatever is
installed or cleared later (I07.FR.24, I10.FR.07).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from msgspec import UNSET

from ....ocpp.v21 import Tariff

__all__ = ["TariffStore", "price_fields", "refusal"]

#: The fields of a tariff that hold price elements (TariffMaxElements counts each).
_PRICE_FIELDS = ("energy", "charging_time", "idle_time", "fixed_fee", "reservation_time", "reservation_fixed")


def price_fields(tariff: Tariff) -> list[Any]:
    """The price fields the tariff has (TariffEnergy, TariffTime, TariffFixed)."""
    fields = (tariff.energy, tariff.charging_time, tariff.idle_time, tariff.fixed_fee,
              tariff.reservation_time, tariff.reservation_fixed)
    return [field for field in fields if field is not UNSET]


def refusal(tariff: Tariff, max_elements: int) -> str | None:
    """Why the station cannot take ``tariff`` (a status both TariffSetStatus and
    TariffChangeStatus spell): ``TooManyElements`` (a field with more than
    ``max_elements`` prices), ``ConditionNotSupported`` (a price with conditions: this
    station does not evaluate them); None: it can."""
    fields = price_fields(tariff)
    if any(len(field.prices) > max_elements for field in fields):
        return "TooManyElements"
    if any(price.conditions is not UNSET for field in fields for price in field.prices):
        return "ConditionNotSupported"
    return None


_EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def _valid_from(tariff: Tariff) -> datetime.datetime | None:
    """The tariff's ``validFrom`` (a time without zone read as UTC), None if it has none."""
    since = tariff.valid_from
    if since is UNSET:
        return None
    return since if since.tzinfo is not None else since.replace(tzinfo=datetime.UTC)


class TariffStore:
    """The default tariffs installed on each EVSE of a station.

    Args:
        evse_ids: the station's EVSEs.
    """

    __slots__ = ("by_evse",)

    def __init__(self, evse_ids: Iterable[int]) -> None:
        #: EVSE id -> its tariffs in the order they were installed
        self.by_evse: dict[int, list[Tariff]] = {evse_id: [] for evse_id in evse_ids}

    def has(self, tariff_id: str) -> bool:
        """Whether a tariff with this id is installed anywhere."""
        return any(t.tariff_id == tariff_id for tariffs in self.by_evse.values() for t in tariffs)

    def install(self, evse_id: int, tariff: Tariff) -> None:
        """Install ``tariff`` on ``evse_id`` (0: on every EVSE)."""
        for target, tariffs in self.by_evse.items():
            if evse_id in (0, target):
                tariffs.append(tariff)

    def current(self, evse_id: int, now: datetime.datetime) -> Tariff | None:
        """The default tariff in force on ``evse_id`` at ``now`` (the ones it replaced are dropped)."""
        tariffs = self.by_evse.get(evse_id)
        if not tariffs:
            return None
        chosen: Tariff | None = None
        chosen_key: tuple[datetime.datetime, int] | None = None
        for n, tariff in enumerate(tariffs):
            since = _valid_from(tariff)
            if since is not None and since > now:
                continue
            rank = (since or _EARLIEST, n)
            if chosen_key is None or rank > chosen_key:
                chosen, chosen_key = tariff, rank
        if chosen is not None:
            tariffs[:] = [t for t in tariffs if t is chosen or (_valid_from(t) or now) > now]
        return chosen

    def clear(self, tariff_ids: Iterable[str] | None, evse_id: int | None) -> list[str]:
        """Remove the tariffs with one of ``tariff_ids`` (None: any) installed on ``evse_id``
        (None: any EVSE); return the ids removed, in order."""
        wanted = set(tariff_ids) if tariff_ids is not None else None
        cleared: list[str] = []
        for target, tariffs in self.by_evse.items():
            if evse_id not in (None, target):
                continue
            kept = []
            for tariff in tariffs:
                if wanted is None or tariff.tariff_id in wanted:
                    if tariff.tariff_id not in cleared:
                        cleared.append(tariff.tariff_id)
                else:
                    kept.append(tariff)
            tariffs[:] = kept
        return cleared

    def assignments(self, evse_id: int) -> list[tuple[Tariff, list[int]]]:
        """Each tariff installed on ``evse_id`` (0: on any EVSE) and the EVSEs it is installed on."""
        found: dict[str, tuple[Tariff, list[int]]] = {}
        for target, tariffs in self.by_evse.items():
            for tariff in tariffs:
                entry = found.setdefault(tariff.tariff_id, (tariff, []))
                entry[1].append(target)
        return [entry for entry in found.values() if evse_id == 0 or evse_id in entry[1]]
