"""OCPP 2.1 for the simulated station: the 2.0.1 station (:mod:`..v201`) speaking 2.1's
payload types, plus answers to the actions 2.1 adds."""
