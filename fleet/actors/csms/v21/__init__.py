"""The CSMS's OCPP 2.1 dialect: the 2.0.1 dialect (:mod:`..v201`) answering in 2.1's
payload types, plus the actions 2.1 adds.

* :mod:`.actions`: which actions each side initiates;
* :mod:`.handlers`: the default answer to each action a station initiates;
* :mod:`.dialect`: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`.
"""

from .actions import CSMS_ACTIONS, STATION_ACTIONS
from .dialect import DIALECT

__all__ = ["CSMS_ACTIONS", "DIALECT", "STATION_ACTIONS"]
