"""The CSMS's OCPP 2.0.1 dialect: its answers to what 2.0.1 stations send."""
