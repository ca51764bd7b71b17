"""The bot as a separate process for the kill -9 test: settings from the environment, and a
clock that runs like the simulated exchange's (start ISO time and speed on the command line)."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.bootstrap import build_trading_app
from kalbot.config import load_settings


async def main(start: str, speed: float) -> None:
    clock = AcceleratedClock(datetime.fromisoformat(start), speed=speed)
    bot = await build_trading_app(load_settings(), mode="paper", clock=clock)
    try:
        while True:
            s = await bot.engine.run_cycle()
            print(s.line(), flush=True)
            await asyncio.sleep(0.1)
    finally:
        await bot.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
