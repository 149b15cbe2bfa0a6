"""A minimal client of an OpenAI-compatible chat-completions endpoint (plain aiohttp, no SDK).

`ChatClient.complete(system, user)` sends `POST {base_url}/chat/completions` with the model, temperature
0, `response_format: {"type": "json_object"}` (understood by OpenAI and most compatible servers, ignored
by the rest: the prompt asks for JSON anyway) and the two messages, and returns the first choice's
message content. It raises `ChatError` for a non-2xx status, a body over `MAX_RESPONSE_BYTES` or a body
that is not a chat completion; network errors and the timeout (`timeout` seconds for the whole request)
propagate as aiohttp's and asyncio's exceptions. The API key is sent only in the Authorization header
and appears in no exception message and no repr.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from pydantic import BaseModel, Field, SecretStr, ValidationError

MAX_RESPONSE_BYTES: Final = 1_000_000


class ChatError(Exception):
    """The endpoint's answer could not be used (status, size, shape)."""


class _ChatMessage(BaseModel):
    content: str


class _Choice(BaseModel):
    message: _ChatMessage


class _ChatCompletion(BaseModel):
    # The envelope carries more (id, usage, ...), which differs between servers: only this is read.
    choices: list[_Choice] = Field(min_length=1)


class ChatClient:
    """One endpoint, one model, one key; a connection per request (reviews are seconds apart)."""

    def __init__(self, *, base_url: str, model: str, api_key: SecretStr, timeout: float) -> None:
        if not api_key.get_secret_value():
            raise ValueError("ChatClient needs an API key")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout})"

    async def complete(self, system: str, user: str) -> str:
        """The content of the first choice of a completion of [system, user]."""
        payload: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(f"{self.base_url}/chat/completions", json=payload, headers=headers) as response,
        ):
            if not 200 <= response.status < 300:
                # The body is not quoted: servers echo the key in 401 messages.
                raise ChatError(f"HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65_536):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ChatError("response too large")
        try:
            completion = _ChatCompletion.model_validate_json(bytes(body))
        except ValidationError:
            raise ChatError("not a chat completion") from None
        return completion.choices[0].message.content
