"""The dashboard's widgets, one per module."""

from .errors_panel import ErrorsPanel
from .frame_log import FrameLog
from .key_bar import KeyBar
from .latency_table import LatencyTable
from .ordered_input import OrderedInput
from .state_counts import StateCounts
from .station_detail import StationDetailView
from .stations_table import StationsTable
from .status_line import StatusLine
from .throughput import Throughput
from .virtual_table import VirtualTable

__all__ = [
    "ErrorsPanel",
    "FrameLog",
    "KeyBar",
    "LatencyTable",
    "OrderedInput",
    "StateCounts",
    "StationDetailView",
    "StationsTable",
    "StatusLine",
    "Throughput",
    "VirtualTable",
]
