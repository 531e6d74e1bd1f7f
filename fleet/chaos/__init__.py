"""Robustness and chaos testing: malformed OCPP-J traffic (:mod:`.malformed`), hostile peers
and raw attackers (:mod:`.attacks`), and the robustness suite that ``fleet chaos`` runs
(:mod:`.suite`). Fault injection into stations lives in :mod:`fleet.faults`."""
