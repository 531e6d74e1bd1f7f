"""The terminal dashboard (Textual): attaches to a fleet's or a CSMS's control API.

Run it with ``fleet tui ws://127.0.0.1:7700/`` or :func:`run_dashboard`. It never
imports the actors: everything it shows comes through :mod:`fleet.control`.
"""

from .app import FleetDashboard, run_dashboard

__all__ = ["FleetDashboard", "run_dashboard"]
