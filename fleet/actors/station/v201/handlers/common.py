"""Helpers shared by the 2.0.1 handlers."""

from __future__ import annotations

import datetime
from typing import Any

from .....ocpp.v201 import StatusInfo

__all__ = ["_chunks", "_info", "_now"]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _info(reason: str, detail: str = "") -> StatusInfo:
    return StatusInfo(reason_code=reason, additional_info=detail[:512]) if detail else StatusInfo(reason_code=reason)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    size = max(size, 1)
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
