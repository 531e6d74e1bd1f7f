"""The dashboard's screens."""

from .composer import ComposerScreen
from .csms import CsmsScreen
from .form import CommandForm
from .help import HelpScreen
from .overview import OverviewScreen
from .result import ResultScreen
from .run_summary import RunSummaryScreen
from .station import StationScreen
from .stations import StationsScreen

__all__ = ["CommandForm", "ComposerScreen", "CsmsScreen", "HelpScreen", "OverviewScreen", "ResultScreen", "RunSummaryScreen", "StationScreen", "StationsScreen"]
