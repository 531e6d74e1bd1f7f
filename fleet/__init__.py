"""fleet: an OCPP 2.x charging-station fleet simulator and CSMS."""

__version__ = "0.1.0"
