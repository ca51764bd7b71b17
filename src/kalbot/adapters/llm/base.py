"""What the ``CompletionClient`` implementations share, written once.

``ClientIdentity`` holds the read-only ``provider``/``model``/``max_output_tokens`` every client
(SDK-backed or fake) reports. Each provider module subclasses ``SdkCompletionClient`` and writes
only ``complete`` (how its SDK is called and how its reply becomes a ``Completion``); the model
check, the SDK construction and ``aclose`` live here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class _ClosableSdk(Protocol):
    async def close(self) -> None: ...


SdkT = TypeVar("SdkT", bound=_ClosableSdk)


class ClientIdentity:
    """Which provider and model a client speaks for, and its output-token cap."""

    def __init__(self, *, provider: str, model: str, max_tokens: int) -> None:
        self._provider = provider
        self._model = model
        self._max_tokens = max_tokens

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model

    @property
    def max_output_tokens(self) -> int:
        return self._max_tokens


class SdkCompletionClient(ClientIdentity, Generic[SdkT]):
    """The shared part of a client: refuses an empty model before the SDK is built."""

    def __init__(
        self,
        *,
        sdk_class: Callable[..., SdkT],
        provider: str,
        model: str,
        api_key: str,
        base_url: str,
        temperature: float,
        max_tokens: int,
        timeout_seconds: float,
        max_retries: int,
    ) -> None:
        if not model:
            raise ValueError(f"{provider}: no model configured")
        super().__init__(provider=provider, model=model, max_tokens=max_tokens)
        self._temperature = temperature
        # The SDKs refuse to start without a key; keyless local servers get a placeholder.
        self._sdk: SdkT = sdk_class(
            api_key=api_key or "unused",
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    async def aclose(self) -> None:
        await self._sdk.close()
