"""SandboxClient: the control API (/_sandbox/...) from Python, for tests, benchmarks and development."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal, Self, TypedDict, cast

import aiohttp

JSON = dict[str, Any]


class EditRecord(TypedDict):
    time: float
    iso: str
    text: str | None
    caption: str | None
    reply_markup: JSON | None


class MessageRecord(TypedDict):
    """One message in a chat as the sandbox recorded it (see docs/sandbox.md)."""

    message_id: int
    chat_id: int
    from_bot: bool
    method: str
    time: float
    iso: str
    sent_at: float | None  # the limits' monotonic clock when a bot's send was let through
    text: str | None
    caption: str | None
    sent_text: str | None
    parse_mode: str | None
    entities: list[JSON]
    reply_markup: JSON | None
    reply_to_message_id: int | None
    link_preview_options: JSON | None
    disable_notification: bool
    paid_broadcast: bool  # sent with allow_paid_broadcast
    photo_file_id: str | None
    original_text: str | None
    original_caption: str | None
    edits: list[EditRecord]
    deleted: bool


class CountersRecord(TypedDict):
    sent: int
    edited: int
    deleted: int
    rate_limited_429: int
    forbidden_403: int
    bad_request_400: int
    server_error_5xx: int
    unauthorized_401: int
    not_found_404: int
    conflict_409: int
    dropped: int
    updates: int
    webhook_delivered: int
    webhook_failed: int
    requests: int
    sent_by_method: dict[str, int]
    by_method: dict[str, dict[str, int]]


class SandboxError(RuntimeError):
    """The control API answered {"ok": false, "error": ...}."""

    def __init__(self, status: int, error: Any) -> None:
        super().__init__(f"sandbox answered {status}: {error}")
        self.status = status
        self.error = error


class SandboxClient:
    """Async client of one sandbox's control API; use `async with SandboxClient(url) as sandbox:`."""

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(
        self, verb: Literal["GET", "POST"], path: str, body: JSON | None = None, **query: Any
    ) -> Any:
        params = {key: str(value) for key, value in query.items() if value is not None}
        async with self._client().request(
            verb, f"{self.base_url}/_sandbox{path}", json=body, params=params
        ) as response:
            payload = await response.json(content_type=None)
        if not isinstance(payload, dict) or not payload.get("ok"):
            raise SandboxError(
                response.status, payload.get("error") if isinstance(payload, dict) else payload
            )
        return payload["result"]

    # -- overview ------------------------------------------------------------------------------------------

    async def overview(self) -> JSON:
        """Bot, mode (getUpdates/webhook), counters, limits, faults, simulation and chats."""
        return cast(JSON, await self._request("GET", "/", format="json"))

    async def counters(self) -> CountersRecord:
        return cast(CountersRecord, await self._request("GET", "/counters"))

    async def reset(self, *, keep_users: bool = False) -> None:
        await self._request("POST", "/reset", {"keep_users": keep_users})

    # -- learners and chats --------------------------------------------------------------------------------

    async def create_user(
        self,
        user_id: int,
        first_name: str = "Learner",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: Literal["ru", "uk", "cs", "en"] | None = "ru",
    ) -> JSON:
        body: JSON = {"id": user_id, "first_name": first_name, "language_code": language_code}
        if username is not None:
            body["username"] = username
        if last_name is not None:
            body["last_name"] = last_name
        return cast(JSON, await self._request("POST", "/users", body))

    async def create_users(self, count: int, *, base_id: int = 700_000_000) -> list[JSON]:
        """`count` learners with ids base_id, base_id+1, ...; names and ru/uk alternate."""
        return cast(list[JSON], await self._request("POST", "/users", {"count": count, "base_id": base_id}))

    async def create_group(
        self, chat_id: int, title: str, *, chat_type: Literal["group", "supergroup"] = "supergroup"
    ) -> JSON:
        return cast(
            JSON, await self._request("POST", "/groups", {"id": chat_id, "title": title, "type": chat_type})
        )

    async def chats(self) -> list[JSON]:
        return cast(list[JSON], await self._request("GET", "/chats"))

    async def chat(self, chat_id: int) -> JSON:
        return cast(JSON, await self._request("GET", f"/chats/{chat_id}"))

    async def set_chat_flags(
        self, chat_id: int, *, blocked: bool | None = None, deactivated: bool | None = None
    ) -> JSON:
        """Set flags silently (no update): a deleted account is `deactivated=True`."""
        body = {
            key: value
            for key, value in {"blocked": blocked, "deactivated": deactivated}.items()
            if value is not None
        }
        return cast(JSON, await self._request("POST", f"/chats/{chat_id}", body))

    async def messages(
        self,
        chat_id: int,
        *,
        include_learner: bool = False,
        wait_for: int | None = None,
        within: float = 5.0,
    ) -> list[MessageRecord]:
        """What the bot sent to the chat; with `wait_for`, first wait (up to `within` seconds) until it
        has sent that many messages there in total."""
        result = await self._request(
            "GET",
            f"/chats/{chat_id}/messages",
            include_learner="1" if include_learner else None,
            wait_for=wait_for,
            timeout=within if wait_for else None,
        )
        return cast(list[MessageRecord], result)

    async def latest_messages(self, limit: int = 100) -> list[MessageRecord]:
        return cast(list[MessageRecord], await self._request("GET", "/messages", limit=limit))

    # -- what learners do ----------------------------------------------------------------------------------

    async def send_text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> JSON:
        """The learner writes `text`; returns the update (with its update_id)."""
        body: JSON = {"user_id": user_id, "text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        return cast(JSON, await self._request("POST", "/updates/message", body))

    async def press_button(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> JSON:
        """The learner presses an inline button with callback `data` under the bot's message."""
        body: JSON = {"user_id": user_id, "message_id": message_id, "data": data}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return cast(JSON, await self._request("POST", "/updates/callback", body))

    async def send_media(
        self, user_id: int, kind: Literal["sticker", "photo", "voice"], *, caption: str | None = None
    ) -> JSON:
        body: JSON = {"user_id": user_id}
        if caption is not None:
            body["caption"] = caption
        return cast(JSON, await self._request("POST", f"/updates/{kind}", body))

    async def block(self, user_id: int) -> JSON:
        """The learner blocks the bot: a my_chat_member update (kicked); sends then answer 403."""
        return cast(JSON, await self._request("POST", "/updates/block", {"user_id": user_id}))

    async def unblock(self, user_id: int) -> JSON:
        return cast(JSON, await self._request("POST", "/updates/unblock", {"user_id": user_id}))

    async def redeliver(self, update_id: int) -> JSON:
        """Deliver an earlier update again, with the same update_id."""
        return cast(JSON, await self._request("POST", "/updates/redeliver", {"update_id": update_id}))

    async def pending_updates(self) -> list[JSON]:
        return cast(list[JSON], (await self._request("GET", "/updates"))["pending"])

    async def callbacks(self) -> list[JSON]:
        return cast(list[JSON], await self._request("GET", "/callbacks"))

    # -- limits, faults, simulation ------------------------------------------------------------------------

    async def limits(self) -> JSON:
        return cast(JSON, await self._request("GET", "/limits"))

    async def set_limits(self, **changes: Any) -> JSON:
        """Change some limits (LimitsConfig fields); buckets start full again."""
        return cast(JSON, await self._request("POST", "/limits", changes))

    async def faults(self) -> JSON:
        return cast(JSON, await self._request("GET", "/faults"))

    async def set_faults(self, **changes: Any) -> JSON:
        """Change some faults (FaultsConfig fields); the random generator restarts from `seed`."""
        return cast(JSON, await self._request("POST", "/faults", changes))

    async def simulate(
        self,
        learners: int,
        rate: float,
        seconds: float | None = None,
        *,
        base_id: int = 700_000_000,
        seed: int = 0,
    ) -> JSON:
        body: JSON = {"learners": learners, "rate": rate, "base_id": base_id, "seed": seed}
        if seconds is not None:
            body["seconds"] = seconds
        return cast(JSON, await self._request("POST", "/simulate", body))

    async def simulation(self) -> JSON:
        return cast(JSON, await self._request("GET", "/simulate"))

    async def stop_simulation(self) -> JSON:
        return cast(JSON, await self._request("POST", "/simulate/stop"))
