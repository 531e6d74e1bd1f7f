"""The exit codes of every ``fleet`` command, the same everywhere (README "Exit codes").

- ``OK`` (0): the run was carried out and every threshold held.
- ``THRESHOLDS_FAILED`` (1): the run was carried out, and a threshold failed (or could not be
  measured: a threshold on an action or window with no data fails, with its reason).
- ``USAGE`` (2): a bad argument, option, profile, fleet file or report; nothing was started.
- ``RUN_FAILED`` (3): the run could not be carried out: no station came online, a worker
  died, the report could not be written, events were left undelivered. The report's
  ``problems`` say why.
- ``INTERRUPTED`` (130): stopped by Ctrl-C (SIGINT) or SIGTERM before its end; what was
  measured until then is reported, marked "interrupted".
"""

from __future__ import annotations

from typing import Final

__all__ = ["INTERRUPTED", "OK", "RUN_FAILED", "THRESHOLDS_FAILED", "USAGE"]

OK: Final = 0
THRESHOLDS_FAILED: Final = 1
USAGE: Final = 2
RUN_FAILED: Final = 3
INTERRUPTED: Final = 130
