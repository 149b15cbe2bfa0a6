"""The sandbox as one object: state, limits, faults, update delivery and the simulator, glued together.

The aiohttp routes (server.py, control/) are thin layers over `Sandbox`; everything runs on one event
loop, and no await separates a limit check from the recording of a message, so concurrent requests are
counted exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mluv.telegram.sandbox.botapi.calls import (
    BAD_GATEWAY,
    INTERNAL_SERVER_ERROR,
    NOT_FOUND,
    POLL_TERMINATED,
    UNAUTHORIZED,
    WEBHOOK_CONFLICT,
    ApiError,
    Call,
    Described,
    Params,
    too_many_requests,
)
from mluv.telegram.sandbox.botapi.methods import SEND_METHODS, BotApi
from mluv.telegram.sandbox.config import FaultsConfig, LimitsConfig, SandboxConfig
from mluv.telegram.sandbox.delivery import Signal, WebhookPusher
from mluv.telegram.sandbox.faults import Fault, FaultInjector
from mluv.telegram.sandbox.limits import Clock, RateLimiter
from mluv.telegram.sandbox.simulate import Simulator
from mluv.telegram.sandbox.state import JSON, SandboxState, WallClock
from mluv.telegram.sandbox.updates import Learners, UpdateQueue

GET_UPDATES_MAX_LIMIT = 100
# Telegram caps getUpdates' long-poll timeout; the sandbox uses the same bound.
GET_UPDATES_MAX_TIMEOUT = 50


@dataclass(frozen=True, slots=True)
class Outcome:
    """One Bot API answer: HTTP status and JSON body; `drop` withholds it from the client."""

    method: str
    status: int
    body: JSON
    drop: bool = False


def error_outcome(method: str, error: ApiError) -> Outcome:
    return Outcome(method, error.status, error.body())


class Sandbox:
    """One sandbox: a Bot API server's memory and behaviour (see the module docstring)."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.initial_config = config or SandboxConfig()
        self.config = self.initial_config
        self.clock = clock
        self.wall_clock = wall_clock
        self.updates_signal = Signal()
        self.messages_signal = Signal()
        self.closing = asyncio.Event()
        self._tokens = frozenset(self.config.tokens)
        self._build()
        self.simulator = Simulator(
            lambda user_id, first_name, username, language_code: self.add_user(
                user_id, first_name, username=username, language_code=language_code
            ),
            self.learner_text,
            # Real time even when the limits run on a test clock: the simulator paces with asyncio.sleep.
            clock=time.monotonic,
            wall_clock=wall_clock,
        )

    def _build(self) -> None:
        config = self.config
        self.state = SandboxState(config, self.wall_clock)
        self.queue = UpdateQueue(config.max_pending_updates)
        self.limiter = RateLimiter(config.limits, self.clock)
        self.faults = FaultInjector(config.faults)
        self.learners = Learners(self.state)
        self.api = BotApi(
            self.state,
            self.queue,
            self.limiter,
            on_webhook_change=self._webhook_changed,
            on_message=self.messages_signal.notify,
        )
        self.pusher = WebhookPusher(config, self.state, self.queue, self.updates_signal, self._webhook_answer)
        self._poll_generation = 0

    @property
    def primary_token(self) -> str:
        return self.config.tokens[0]

    def accepts(self, token: str) -> bool:
        return token in self._tokens

    # -- Bot API ---------------------------------------------------------------------------------------

    def execute(self, token: str, method: str, params: Params) -> Outcome:
        """Answer one Bot API call (anything but getUpdates), with send faults and counters."""
        entry = self.api.methods.get(method.lower())
        if entry is None:
            outcome = Outcome(method, 404, {"ok": False, "error_code": 404, "description": NOT_FOUND})
            self.state.counters.record_status(method, 404)
            return outcome
        name, handler = entry
        fault = self.faults.send_fault() if name in SEND_METHODS else Fault.NONE
        if fault is Fault.SERVER_ERROR:
            status = self.faults.server_error_status()
            description = INTERNAL_SERVER_ERROR if status == 500 else BAD_GATEWAY
            outcome = error_outcome(name, ApiError(status, description))
        elif fault is Fault.RATE_LIMIT:
            outcome = error_outcome(name, too_many_requests(self.faults.config.rate_limit_retry_after))
        else:
            try:
                result = handler(Call(token, params))
            except ApiError as error:
                outcome = error_outcome(name, error)
            else:
                body: JSON = {"ok": True, "result": result}
                if isinstance(result, Described):
                    body = {"ok": True, "result": result.result, "description": result.description}
                outcome = Outcome(name, 200, body, drop=fault is Fault.DROP)
                if outcome.drop:
                    self.state.counters.dropped += 1
        self.state.counters.record_status(name, outcome.status)
        return outcome

    def unauthorized(self, method: str) -> Outcome:
        self.state.counters.record_status(method, 401)
        return Outcome(method, 401, {"ok": False, "error_code": 401, "description": UNAUTHORIZED})

    async def get_updates(self, params: Params) -> Outcome:
        """getUpdates: confirm by offset, then return at once or wait up to `timeout` seconds."""
        try:
            outcome = Outcome("getUpdates", 200, {"ok": True, "result": await self._poll(params)})
        except ApiError as error:
            outcome = error_outcome("getUpdates", error)
        self.state.counters.record_status("getUpdates", outcome.status)
        return outcome

    async def _poll(self, params: Params) -> list[JSON]:
        if self.state.webhook.url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or GET_UPDATES_MAX_LIMIT, 1), GET_UPDATES_MAX_LIMIT)
        timeout = min(max(params.integer("timeout") or 0, 0), GET_UPDATES_MAX_TIMEOUT)
        allowed = params.decoded("allowed_updates", invalid="can't parse allowed updates JSON object")
        # A newer getUpdates ends a waiting one with 409, as Telegram does with two bot instances.
        self._poll_generation += 1
        generation = self._poll_generation
        self.updates_signal.notify()
        queue = self.queue
        queue.set_allowed([str(kind) for kind in allowed] if isinstance(allowed, list) else None)
        if offset:
            queue.confirm(offset)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if queue is not self.queue or self.closing.is_set():
                return []  # the sandbox was reset or is stopping
            batch = queue.take(limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or remaining <= 0:
                return batch
            await self.updates_signal.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, POLL_TERMINATED)

    # -- webhook ---------------------------------------------------------------------------------------

    def _webhook_changed(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: the pusher starts with the server
            self.pusher.restart()
        self.updates_signal.notify()

    def _webhook_answer(self, method: str, params: dict[str, Any]) -> None:
        if method.lower() != "getupdates":
            self.execute(self.primary_token, method, Params(params))

    # -- learners and updates --------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "ru",
    ) -> JSON:
        chat = self.state.add_user(
            user_id, first_name, username=username, last_name=last_name, language_code=language_code
        )
        return chat.summary()

    def inject(self, payload: JSON) -> JSON:
        update = self.queue.push(payload)
        self.state.counters.updates += 1
        self.updates_signal.notify()
        return update

    def learner_text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> JSON:
        return self.inject(
            self.learners.text(user_id, text, chat_id=chat_id, reply_to_message_id=reply_to_message_id)
        )

    def redeliver(self, update_id: int) -> JSON:
        update = self.queue.redeliver(update_id)
        self.state.counters.updates += 1
        self.updates_signal.notify()
        return update

    # -- configuration ---------------------------------------------------------------------------------

    def set_limits(self, changes: dict[str, Any]) -> LimitsConfig:
        limits = LimitsConfig.model_validate({**self.config.limits.model_dump(), **changes})
        self.config = self.config.model_copy(update={"limits": limits})
        self.limiter.reconfigure(limits)
        return limits

    def set_faults(self, changes: dict[str, Any]) -> FaultsConfig:
        faults = FaultsConfig.model_validate({**self.config.faults.model_dump(), **changes})
        self.config = self.config.model_copy(update={"faults": faults})
        self.faults.reconfigure(faults)
        return faults

    def set_auto_create(self, enabled: bool) -> None:
        self.config = self.config.model_copy(update={"auto_create_chats": enabled})
        self.state.config = self.config

    async def reset(self, *, keep_users: bool = False) -> None:
        """Back to the start: the start configuration, no messages, updates, webhook or counters."""
        users = [chat.user for chat in self.state.chats.values() if chat.user is not None]
        groups = [
            (chat.id, chat.title or "", chat.type) for chat in self.state.chats.values() if chat.user is None
        ]
        await self.simulator.close()
        await self.pusher.close()
        self.config = self.initial_config
        self._build()
        if keep_users:
            for user in users:
                self.state.add_user(
                    user.id,
                    user.first_name,
                    username=user.username,
                    last_name=user.last_name,
                    language_code=user.language_code,
                )
            for chat_id, title, chat_type in groups:
                self.state.add_group(chat_id, title, chat_type)
        self.updates_signal.notify()
        self.messages_signal.notify()

    async def close(self) -> None:
        """Release every waiting request (long polls, held drops) and stop background tasks."""
        self.closing.set()
        self.updates_signal.notify()
        self.messages_signal.notify()
        await self.simulator.close()
        await self.pusher.close()

    async def wait_for_messages(self, chat_id: int, count: int, within: float) -> bool:
        """Wait until the bot has sent `count` messages to the chat (for tests and people)."""
        deadline = asyncio.get_running_loop().time() + within
        while self.state.bot_message_count(chat_id) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closing.is_set():
                return False
            await self.messages_signal.wait(remaining)
        return True


SANDBOX_KEY = web.AppKey("mluv_sandbox", Sandbox)
