"""LiveDataRecorder: market data -> market_snapshots, recorder coverage and market results."""

from kalbot.recorder.recorder import LiveDataRecorder, RecorderStore, snapshot_of
from kalbot.recorder.records import CoverageRow, MarketResultRow

__all__ = ["CoverageRow", "LiveDataRecorder", "MarketResultRow", "RecorderStore", "snapshot_of"]
