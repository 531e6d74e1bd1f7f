"""OCPP 2.0.1 for the simulated station: transactions, device model, smart charging and
the answers to every CSMS-initiated action."""
