"""The CSMS's OCPP 2.0.1 dialect: what it answers to 2.0.1 stations and how it records it.

* :mod:`.actions`: which actions each side initiates;
* :mod:`.handlers`: the default answer to each action a station initiates;
* :mod:`.recorders`: how each message goes into the version-free records;
* :mod:`.dialect`: :data:`DIALECT`, the three bound together.
"""

from .actions import CSMS_ACTIONS, STATION_ACTIONS
from .dialect import DIALECT

__all__ = ["CSMS_ACTIONS", "DIALECT", "STATION_ACTIONS"]
