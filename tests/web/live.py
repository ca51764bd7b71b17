"""A live dashboard on 127.0.0.1 in a background thread, for the browser and schema tests."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kalbot.domain.clock import ManualClock
from kalbot.web.app import create_app
from kalbot.web.db import create_read_engine
from kalbot.web.reader import Reader

from .conftest import make_config
from .seed import NOW


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Live:
    base: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(url: str, exports: Path, token: str | None) -> Live:
    reader = Reader(
        create_read_engine(url), make_config(exports, refresh_seconds=1), ManualClock(NOW)
    )
    host_semantics = "0.0.0.0" if token else "127.0.0.1"  # as if bound off loopback
    app = create_app(reader, token=token, host=host_semantics, dispose_engine=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    return Live(f"http://127.0.0.1:{port}", server, thread)


def stop(live: Live) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)
