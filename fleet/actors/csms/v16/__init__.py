"""The CSMS's OCPP 1.6J dialect: what it answers to 1.6 charge points and how it records it.

* :mod:`.actions`: which actions each side initiates;
* :mod:`.handlers`: the default answer to each action a station initiates;
* :mod:`.transaction_ids`: the transaction ids the CSMS assigns (1.6's CSMS names transactions);
* :mod:`.recorders`: how each message goes into the version-free records (1.6's
  connectors and transactions mapped onto them);
* :mod:`.dialect`: :data:`DIALECT`, bound together.
"""

from .actions import CSMS_ACTIONS, STATION_ACTIONS
from .dialect import DIALECT

__all__ = ["CSMS_ACTIONS", "DIALECT", "STATION_ACTIONS"]
