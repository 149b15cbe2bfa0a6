"""Getting updates to the bot: a wake-up signal for long polls, and the webhook pusher."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from mluv.logs import get_logger
from mluv.telegram.sandbox.config import SandboxConfig
from mluv.telegram.sandbox.state import JSON, SandboxState
from mluv.telegram.sandbox.updates import UpdateQueue

log = get_logger(__name__)

# Called with (method, parameters) when a webhook answers with a Bot API call in its body.
ResponseMethod = Callable[[str, dict[str, Any]], None]


class Signal:
    """Wakes every waiter at once; waiters re-check their condition after waking."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> None:
        """Until the next notify, or at most `seconds` (None: no limit)."""
        event = self._event
        if seconds is not None and seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


class WebhookPusher:
    """POSTs each pending update to the webhook as JSON, like Telegram: up to max_connections at once,
    with X-Telegram-Bot-Api-Secret-Token when a secret was set, retrying failures with growing delays."""

    def __init__(
        self,
        config: SandboxConfig,
        state: SandboxState,
        queue: UpdateQueue,
        updates: Signal,
        on_response_method: ResponseMethod,
    ) -> None:
        self._config = config
        self._state = state
        self._queue = queue
        self._updates = updates
        self._on_response_method = on_response_method
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._failures = 0

    def restart(self) -> None:
        """Follow the current webhook setting: stop delivering, and start again if a URL is set."""
        self.stop()
        if self._state.webhook.url:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-webhook")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for delivery in self._deliveries:
            delivery.cancel()
        self._deliveries.clear()
        self._queue.release_in_flight()
        self._failures = 0

    async def close(self) -> None:
        task, deliveries = self._task, list(self._deliveries)
        self.stop()
        for pending in [*deliveries, *([task] if task else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._config.webhook_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                webhook = self._state.webhook
                capacity = webhook.max_connections - len(self._deliveries)
                taken = self._queue.take_for_webhook(capacity) if capacity > 0 else []
                for key, update in taken:
                    delivery = asyncio.get_running_loop().create_task(
                        self._deliver(session, key, update, webhook.url, webhook.secret_token)
                    )
                    self._deliveries.add(delivery)
                    delivery.add_done_callback(self._deliveries.discard)
                if not taken:
                    await self._updates.wait(None)

    async def _deliver(
        self, session: aiohttp.ClientSession, key: int, update: JSON, url: str, secret: str | None
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        error: str | None = None
        try:
            async with session.post(
                url, data=json.dumps(update, ensure_ascii=False), headers=headers
            ) as response:
                if 200 <= response.status < 300:
                    await self._handle_answer(response)
                else:
                    # Telegram's getWebhookInfo wording for a non-2xx answer.
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exception:
            error = f"Connection error: {type(exception).__name__}"
        if error is None:
            self._failures = 0
            self._queue.delivered(key)
            self._state.counters.webhook_delivered += 1
        else:
            self._failures += 1
            webhook = self._state.webhook
            webhook.last_error_date, webhook.last_error_message = int(self._state.now()), error
            self._state.counters.webhook_failed += 1
            delay = min(
                self._config.webhook_retry_max_seconds,
                self._config.webhook_retry_seconds * 2 ** min(self._failures - 1, 16),
            )
            await asyncio.sleep(delay)  # Telegram retries a failed delivery later, not at once
            self._queue.failed(key)
        self._updates.notify()

    async def _handle_answer(self, response: aiohttp.ClientResponse) -> None:
        """Telegram runs a Bot API call put in the webhook answer (aiogram: handle_in_background=False)."""
        params: dict[str, Any] = {}
        if response.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await response.json(content_type=None)
                if isinstance(body, dict):
                    params = body
        elif response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    params[part.name] = await part.text()
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            try:
                self._on_response_method(method, params)
            except Exception:  # a bad call in a webhook answer must not stop delivery
                log.exception("sandbox: webhook answer's method failed", method=method)
