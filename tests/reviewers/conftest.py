"""Fixtures of the reviewer tests.

- `fake_llm`: a running fake OpenAI-compatible server (tests/reviewers/fake_llm.py);
- `recorded`: the reviewer module's logger replaced by a recorder (`recorded.records`);
- `llm_settings(**overrides)`: Settings with LLM_API_KEY = API_KEY and LLM_BASE_URL = the fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mluv.domain.czech import warm_up
from mluv.reviewers import llm
from mluv.settings import Settings, load_settings
from tests.reviewers.fake_llm import API_KEY, FakeLLM, running_fake_llm

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session", autouse=True)
def lexicon() -> None:
    warm_up()


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    async with running_fake_llm() as fake:
        yield fake


class RecordingLogger:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.records.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self.records.append(("info", event, fields))

    def events(self) -> list[tuple[str, str]]:
        return [(level, event) for level, event, _ in self.records]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    logger = RecordingLogger()
    monkeypatch.setattr(llm, "log", logger)
    return logger


@pytest.fixture
def llm_settings(fake_llm: FakeLLM, tmp_path: Any) -> SettingsFactory:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path,
            "llm_api_key": API_KEY,
            "llm_base_url": fake_llm.base_url,
            "llm_model": "fake-model-1",
            "llm_timeout": 5,
        }
        return load_settings(_env_file=None, **(values | overrides))

    return build
