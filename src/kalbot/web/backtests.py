"""Exported backtest runs: one directory each under the configured exports folder.

The backtest part writes a JSON file of metrics, ``trades.csv``, ``equity.csv`` and a
self-contained HTML report per run; the dashboard lists whatever is there and serves the files,
never anything outside that folder.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kalbot.web.models import BacktestRun

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
SERVED_SUFFIXES = frozenset({".html", ".json", ".csv", ".md", ".png", ".svg", ".txt"})


def _metrics(run: Path) -> dict[str, Any]:
    candidates = sorted(run.glob("*.json"), key=lambda p: (p.name != "metrics.json", p.name))
    for path in candidates:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            inner = data.get("metrics")
            return inner if isinstance(inner, dict) else data
    return {}


def _report(run: Path) -> str | None:
    htmls = sorted(run.glob("*.html"), key=lambda p: (p.name != "report.html", p.name))
    return htmls[0].name if htmls else None


def list_runs(exports_dir: Path, limit: int = 200) -> list[BacktestRun]:
    """Runs newest first; an absent folder is simply no runs."""
    if not exports_dir.is_dir():
        return []
    runs = []
    for child in exports_dir.iterdir():
        if not child.is_dir() or not _SAFE_NAME.match(child.name):
            continue
        files = sorted(p.name for p in child.iterdir() if p.is_file())
        runs.append(
            BacktestRun(
                name=child.name,
                modified=datetime.fromtimestamp(child.stat().st_mtime, UTC),
                files=files,
                metrics=_metrics(child),
                report=_report(child),
            )
        )
    runs.sort(key=lambda r: (r.modified, r.name), reverse=True)
    return runs[:limit]


def run_file(exports_dir: Path, run: str, name: str) -> Path | None:
    """The file ``name`` of run ``run``, or None for anything missing, hidden or outside."""
    if not _SAFE_NAME.match(run) or not _SAFE_NAME.match(name):
        return None
    root = exports_dir.resolve()
    path = (root / run / name).resolve()
    if path.parent.parent != root or path.suffix.lower() not in SERVED_SUFFIXES:
        return None
    return path if path.is_file() else None
