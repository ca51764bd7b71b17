"""The default analyst's model: logistic recalibration of the market mid.

    logit(p) = a + b * logit(mid) + c * logit(mid) * h,    h = ln(1 + hours_to_close / 24)

``b > 1`` means favourites win more often than their price says and longshots less (the
favourite-longshot bias); ``c`` lets that bias change with the time left; ``a`` is an overall
tilt towards YES or NO. With ``a = c = 0, b = 1`` the model returns the mid itself.

The parameters are fitted by ``kalbot analyst fit`` (``kalbot.analysis.fitting``) on resolved
markets and stored as JSON; until then the prior below is used. No network, no cost.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from kalbot.domain.market import Market

# Probabilities are kept away from 0 and 1 so logit stays finite.
EPS = 1e-4
MODEL_NAME = "logit-recalibration-v1"


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


def horizon(hours_to_close: float) -> float:
    return math.log1p(max(hours_to_close, 0.0) / 24)


def features(mid: float, hours_to_close: float) -> tuple[float, float, float]:
    x = logit(mid)
    return (1.0, x, x * horizon(hours_to_close))


@dataclass(frozen=True, slots=True)
class HeuristicParams:
    """Fitted (or prior) coefficients and where they came from."""

    a: float = 0.0
    b: float = 1.0
    c: float = 0.0
    source: str = "prior: identity (the mid itself) until `kalbot analyst fit` runs"
    fitted_at: str = ""
    n_markets: int = 0
    n_samples: int = 0
    log_loss: float | None = None
    baseline_log_loss: float | None = None

    def probability(self, mid: float, hours_to_close: float) -> float:
        f = features(mid, hours_to_close)
        return sigmoid(self.a * f[0] + self.b * f[1] + self.c * f[2])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HeuristicParams:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("heuristic parameters must be a JSON object")
        for key in ("a", "b", "c"):
            if not isinstance(data.get(key), int | float) or not math.isfinite(data[key]):
                raise ValueError(f"heuristic parameter {key!r} missing or not a finite number")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def load_params(path: Path) -> HeuristicParams:
    """The stored parameters, or the prior when nothing was fitted yet."""
    if not path.exists():
        return HeuristicParams()
    return HeuristicParams.from_json(path.read_text(encoding="utf-8"))


def save_params(params: HeuristicParams, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(params.to_json(), encoding="utf-8")
    tmp.replace(path)  # atomic: a running bot never reads half a file


class NoMidPrice(ValueError):
    code = "no_mid_price"


def estimate(params: HeuristicParams, market: Market, now: datetime) -> Decimal:
    """P(YES) for ``market`` at ``now``, rounded to 4 decimals (a price-like probability)."""
    mid = market.quote.mid
    if mid is None or not Decimal(0) < mid < Decimal(1):
        raise NoMidPrice(f"{market.ticker}: no two-sided quote to recalibrate")
    hours = (market.close_time - now).total_seconds() / 3600
    p = params.probability(float(mid), hours)
    return Decimal(str(round(p, 4)))
