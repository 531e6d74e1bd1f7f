"""What the ``ocpp`` package peer of the closed-loop benchmark needs to run, and how it is set up.

Apart from :mod:`.ocpp_peer` so that the benchmark's orchestrator (:mod:`.load`) can ask
without importing the peer, which itself builds on :mod:`.load`.
"""

from __future__ import annotations

import importlib.util

__all__ = ["NOTES", "missing_requirement"]

NOTES = ("ocpp v201 ChargePoint on both ends with its defaults (jsonschema validation of every message on both "
         "sides, in a thread pool); websockets with its defaults (permessage-deflate on)")


def missing_requirement() -> str | None:
    """Why the peer cannot run here (a message for the user), or ``None``."""
    missing = [name for name in ("ocpp", "websockets", "jsonschema") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"--peer ocpp needs the {', '.join(missing)} package(s): "
                "pip install 'fleet[bench]'")
    return None
