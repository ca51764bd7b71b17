"""Settings, validated once at start-up.

Sources, highest priority first: constructor arguments, ``KALBOT_*`` environment variables
(nested with ``__``, e.g. ``KALBOT_AI__DAILY_BUDGET``), the spec-era deployment variables
(``DATABASE_TYPE``, ``POSTGRES_*``, ``MAX_POSITION_SIZE``, ``DAILY_AI_BUDGET``, ...), a ``.env``
file, and an optional ``kalbot.toml``. Each area owns one section below.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SQLITE_PATH = "data/kalshi_trading.db"


class ConfigError(Exception):
    """Settings that do not validate; the message names each bad setting."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    type: Literal["sqlite", "postgresql"] = "sqlite"
    url: str | None = None  # one URL overrides the parts below
    sqlite_path: str = DEFAULT_SQLITE_PATH
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_database: str = "kalshi_trading"
    postgres_user: str = "postgres"
    postgres_password: SecretStr = SecretStr("")
    pool_size: int = Field(10, ge=1)
    max_overflow: int = Field(20, ge=0)

    def effective_url(self) -> str:
        """The SQLAlchemy async URL this configuration points at."""
        if self.url:
            return self.url
        if self.type == "sqlite":
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        pw = self.postgres_password.get_secret_value()
        auth = f"{self.postgres_user}:{pw}" if pw else self.postgres_user
        return (
            f"postgresql+asyncpg://{auth}@{self.postgres_host}:{self.postgres_port}/"
            f"{self.postgres_database}"
        )


class KalshiSettings(_Section):
    environment: Literal["demo", "production"] = "demo"
    base_url: str | None = None  # any other base URL, e.g. the local simulated exchange
    ws_url: str | None = None
    api_key_id: str | None = None
    private_key_path: Path | None = None
    read_tokens_per_second: int = Field(200, ge=1)
    write_tokens_per_second: int = Field(100, ge=1)
    timeout_seconds: float = Field(10.0, gt=0)
    max_retries: int = Field(4, ge=0)
    # Kalshi usage tier (REFERENCE §5); when set it overrides the two token rates above
    rate_limit_tier: (
        Literal["basic", "advanced", "expert", "premier", "paragon", "prime", "prestige"] | None
    ) = None


class ModelPrice(_Section):
    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)


# List prices in dollars per million tokens as the providers published them around the date
# below, written from memory without a network to re-check them: verify against the providers'
# price pages before spending real money, and override ``ai.prices`` (which replaces the table).
DEFAULT_PRICES_AS_OF = "2025-05-22"
DEFAULT_MODEL_PRICES: dict[str, ModelPrice] = {
    "gpt-4.1-mini": ModelPrice(input_per_mtok=Decimal("0.40"), output_per_mtok=Decimal("1.60")),
    "gpt-4.1": ModelPrice(input_per_mtok=Decimal("2.00"), output_per_mtok=Decimal("8.00")),
    "gpt-4o-mini": ModelPrice(input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60")),
    "gpt-4o": ModelPrice(input_per_mtok=Decimal("2.50"), output_per_mtok=Decimal("10.00")),
    "claude-sonnet-4": ModelPrice(input_per_mtok=Decimal("3.00"), output_per_mtok=Decimal("15.00")),
    "claude-3-5-haiku": ModelPrice(input_per_mtok=Decimal("0.80"), output_per_mtok=Decimal("4.00")),
    "grok-3-mini": ModelPrice(input_per_mtok=Decimal("0.30"), output_per_mtok=Decimal("0.50")),
    "grok-3": ModelPrice(input_per_mtok=Decimal("3.00"), output_per_mtok=Decimal("15.00")),
}
DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-sonnet-4-20250514",
    "xai": "grok-3-mini",
}
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "xai": "https://api.x.ai/v1",
}


class AISettings(_Section):
    provider: str = "heuristic"  # heuristic | openai | anthropic | xai | openai-compatible
    ensemble: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    xai_api_key: SecretStr | None = None
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(600, ge=1)
    timeout_seconds: float = Field(30.0, gt=0)
    daily_budget: Decimal = Field(Decimal("10"), ge=0)
    min_edge: Decimal = Field(Decimal("0.03"), ge=0)
    show_market_price: bool = False
    reanalyze_after_seconds: int = Field(3600, ge=0)
    reanalyze_price_move: Decimal = Field(Decimal("0.03"), ge=0)
    # Dollars per million tokens. Setting ``prices`` replaces this whole table; a paid call to
    # a model with no price here is never made (SKIP ``ai_price_unknown``).
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_MODEL_PRICES))
    prices_as_of: str = DEFAULT_PRICES_AS_OF
    # Default model per provider; ``model`` overrides it for the main ``provider``.
    models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODELS))
    # Base URL per provider; ``base_url`` overrides it for the main ``provider``.
    base_urls: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_BASE_URLS))
    ensemble_weights: tuple[Decimal, ...] = ()
    # SDK-level retries; each retry could be billed, and the loop retries next cycle anyway.
    max_retries: int = Field(0, ge=0, le=5)
    min_confidence: Decimal = Field(Decimal("0"), ge=0, le=1)
    # The taker fee per contract is judged on a lot of this many contracts (fees round up).
    fee_reference_contracts: Decimal = Field(Decimal("10"), gt=0)
    heuristic_params_path: str = "data/analyst_model.json"
    # An unsettled reservation (a crashed process) stops counting against the budget after this.
    reservation_ttl_seconds: int = Field(600, ge=1)
    # What to ask an openai-compatible server for: not all of them support JSON Schema.
    compatible_response_format: Literal["json_schema", "json_object", "none"] = "json_object"


class RiskSettings(_Section):
    kelly_fraction: Decimal = Field(Decimal("0.25"), gt=0, le=1)
    sizing: Literal["kelly", "fixed", "proportional"] = "kelly"
    fixed_contracts: int = Field(10, ge=1)
    proportional_fraction: Decimal = Field(Decimal("0.01"), gt=0, le=1)
    max_position_dollars: Decimal = Field(Decimal("100"), gt=0)
    max_position_share: Decimal = Field(Decimal("0.05"), gt=0, le=1)
    max_open_positions: int = Field(20, ge=1)
    max_total_exposure: Decimal = Field(Decimal("2000"), gt=0)
    max_event_exposure: Decimal = Field(Decimal("300"), gt=0)
    max_category_exposure: Decimal = Field(Decimal("800"), gt=0)
    min_cash_reserve: Decimal = Field(Decimal("100"), ge=0)
    max_daily_loss: Decimal = Field(Decimal("200"), gt=0)
    max_drawdown: Decimal = Field(Decimal("0.20"), gt=0, le=1)
    max_stopouts: int = Field(3, ge=1)
    stopout_window_minutes: int = Field(120, ge=1)
    cooldown_minutes: int = Field(60, ge=0)


class TradingSettings(_Section):
    live_trading_enabled: bool = False
    strategy: str = "standard"
    paper_balance: Decimal = Field(Decimal("10000"), gt=0)  # the paper account's starting cash
    interval_seconds: int = Field(60, ge=1)
    profit_target: Decimal = Field(Decimal("0.20"), gt=0)
    stop_loss: Decimal = Field(Decimal("0.15"), gt=0)
    max_hold_hours: int = Field(72, ge=1)
    close_before_expiry_minutes: int = Field(30, ge=0)
    min_volume_24h: Decimal = Field(Decimal("100"), ge=0)
    min_open_interest: Decimal = Field(Decimal("50"), ge=0)
    max_spread: Decimal = Field(Decimal("0.08"), ge=0)
    min_hours_to_close: Decimal = Field(Decimal("1"), ge=0)
    max_days_to_close: Decimal = Field(Decimal("30"), ge=0)
    min_price: Decimal = Field(Decimal("0.05"), ge=0, le=1)
    max_price: Decimal = Field(Decimal("0.95"), ge=0, le=1)
    categories_allow: tuple[str, ...] = ()
    categories_deny: tuple[str, ...] = ()
    tickers_deny: tuple[str, ...] = ()


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    token: SecretStr | None = None
    refresh_seconds: int = Field(5, ge=1, le=3600)  # how often the pages re-fetch their data
    page_size: int = Field(50, ge=1, le=1000)
    exports_dir: Path = Path("data/backtests")  # one sub-directory per exported backtest run
    max_cycle_age_seconds: int = Field(600, ge=1)  # /health fails when the last cycle is older
    exchange_check: bool = True  # /health asks the exchange (Kalshi or its stand-in) for status


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KALBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        toml_file="kalbot.toml",
    )

    database: DatabaseSettings = DatabaseSettings()
    kalshi: KalshiSettings = KalshiSettings()
    ai: AISettings = AISettings()
    risk: RiskSettings = RiskSettings()
    trading: TradingSettings = TradingSettings()
    web: WebSettings = WebSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.trading.min_price >= self.trading.max_price:
            raise ValueError("trading.min_price must be below trading.max_price")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SpecEraSource(settings_cls),
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
        )


# spec-era variable -> (section, field)
SPEC_ERA_VARIABLES: dict[str, tuple[str, str]] = {
    "KALBOT_DATABASE_URL": ("database", "url"),
    "DATABASE_TYPE": ("database", "type"),
    "POSTGRES_HOST": ("database", "postgres_host"),
    "POSTGRES_PORT": ("database", "postgres_port"),
    "POSTGRES_DATABASE": ("database", "postgres_database"),
    "POSTGRES_DB": ("database", "postgres_database"),
    "POSTGRES_USER": ("database", "postgres_user"),
    "POSTGRES_PASSWORD": ("database", "postgres_password"),
    "KALSHI_API_KEY_ID": ("kalshi", "api_key_id"),
    "KALSHI_PRIVATE_KEY_PATH": ("kalshi", "private_key_path"),
    "OPENAI_API_KEY": ("ai", "openai_api_key"),
    "ANTHROPIC_API_KEY": ("ai", "anthropic_api_key"),
    "XAI_API_KEY": ("ai", "xai_api_key"),
    "DAILY_AI_BUDGET": ("ai", "daily_budget"),
    "MAX_POSITION_SIZE": ("risk", "max_position_dollars"),
    "MAX_DAILY_LOSS": ("risk", "max_daily_loss"),
    "LIVE_TRADING_ENABLED": ("trading", "live_trading_enabled"),
}


class SpecEraSource(PydanticBaseSettingsSource):
    """The deployment variables the original specification names, without the prefix."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for var, (section, name) in SPEC_ERA_VARIABLES.items():
            value = os.environ.get(var)
            if value is not None and value != "":
                out.setdefault(section, {}).setdefault(name, value)
        return dict(out)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings once; bad settings raise ConfigError with every problem."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets shown as '**********'."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    # model_dump(mode="json") already renders SecretStr as '**********'; the database URL
    # may carry a password, so mask that too.
    url = data["database"].get("url")
    if url and "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
        scheme, rest = url.split("//", 1)
        creds, host = rest.split("@", 1)
        data["database"]["url"] = f"{scheme}//{creds.split(':', 1)[0]}:**********@{host}"
    return data
