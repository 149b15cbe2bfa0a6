"""Pure parts: Telegram's HTML entities, bot commands, the update queue's offset semantics, media, faults."""

from __future__ import annotations

from typing import Any

import pytest

from mluv.telegram.sandbox.config import FaultsConfig, SandboxConfig
from mluv.telegram.sandbox.entities import EntityParseError, bot_command_entities, format_text, parse_html
from mluv.telegram.sandbox.faults import Fault, FaultInjector
from mluv.telegram.sandbox.media import image_size, photo_sizes, png_bytes
from mluv.telegram.sandbox.state import SandboxState
from mluv.telegram.sandbox.updates import Learners, UpdateQueue


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("plain", "plain", []),
        ("<b>Ahoj</b> světe", "Ahoj světe", [{"offset": 0, "length": 4, "type": "bold"}]),
        ("a &lt;b&gt; &amp; &quot; &#269;", 'a <b> & " č', []),
        ("AT&T &nbsp;", "AT&T &nbsp;", []),
        (
            "<i>x<u>y</u></i>",
            "xy",
            [{"offset": 0, "length": 2, "type": "italic"}, {"offset": 1, "length": 1, "type": "underline"}],
        ),
        (
            '<a href="https://mluv.me/?a=1&amp;b=2">web</a>',
            "web",
            [{"offset": 0, "length": 3, "type": "text_link", "url": "https://mluv.me/?a=1&b=2"}],
        ),
        ("😀<b>x</b>", "😀x", [{"offset": 2, "length": 1, "type": "bold"}]),  # offsets in UTF-16 units
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [{"offset": 0, "length": 5, "type": "pre", "language": "python"}],
        ),
        ('<span class="tg-spoiler">s</span>', "s", [{"offset": 0, "length": 1, "type": "spoiler"}]),
        (
            "<blockquote expandable>q</blockquote>",
            "q",
            [{"offset": 0, "length": 1, "type": "expandable_blockquote"}],
        ),
        ("<b></b>x", "x", []),
    ],
)
def test_html_is_parsed_into_text_and_entities(
    source: str, text: str, entities: list[dict[str, Any]]
) -> None:
    parsed = parse_html(source)
    assert (parsed.text, parsed.entities) == (text, entities)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("x < y", 'Unsupported start tag "" at byte offset 2'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("č</b>", 'Unexpected end tag at byte offset 2, found "</b>"'),  # byte offsets count UTF-8 bytes
    ],
)
def test_bad_html_is_refused_like_telegram(source: str, message: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_html(source)
    assert str(raised.value) == message


def test_text_is_trimmed_and_entities_follow() -> None:
    parsed = format_text("  <b>Ahoj</b>  ", "HTML")
    assert (parsed.text, parsed.entities) == ("Ahoj", [{"offset": 0, "length": 4, "type": "bold"}])
    assert format_text("<b>x</b>", None).text == "<b>x</b>"  # other parse modes are kept as sent
    assert format_text("   ", None).text == ""


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("/start", 6),
        ("/start payload", 6),
        ("/stats@mluv_sandbox_bot now", 23),
        ("hi /start", None),
        ("/", None),
    ],
)
def test_bot_command_entity(text: str, length: int | None) -> None:
    expected = [] if length is None else [{"offset": 0, "length": length, "type": "bot_command"}]
    assert bot_command_entities(text) == expected


def _queue_with(count: int) -> UpdateQueue:
    queue = UpdateQueue(max_pending=1000)
    for index in range(count):
        queue.push({"message": {"text": str(index)}})
    return queue


def _ids(batch: list[dict[str, Any]]) -> list[int]:
    return [update["update_id"] for update in batch]


def test_offset_confirms_earlier_updates_and_unconfirmed_ones_come_again() -> None:
    queue = _queue_with(5)
    assert _ids(queue.take(2)) == [1, 2]
    assert _ids(queue.take(2)) == [1, 2]  # not confirmed yet
    queue.confirm(3)
    assert _ids(queue.take(100)) == [3, 4, 5]
    queue.confirm(6)
    assert queue.take(100) == []
    assert len(queue) == 0


def test_negative_offset_keeps_only_the_last_updates() -> None:
    queue = _queue_with(5)
    queue.confirm(-2)
    assert _ids(queue.take(100)) == [4, 5]


def test_a_redelivered_update_comes_alone_with_its_old_id() -> None:
    queue = _queue_with(3)
    queue.confirm(4)  # all three handled
    queue.push({"message": {"text": "new"}})  # id 4
    queue.redeliver(2)
    queue.push({"message": {"text": "newer"}})  # id 5
    assert _ids(queue.take(100)) == [4]  # stops before the redelivered update
    queue.confirm(5)
    assert _ids(queue.take(100)) == [2]  # alone, so that offset 3 confirms exactly it
    queue.confirm(3)
    assert _ids(queue.take(100)) == [5]
    with pytest.raises(KeyError):
        queue.redeliver(99)


def test_allowed_updates_filter_types_and_default_skips_opt_in_types() -> None:
    queue = UpdateQueue(max_pending=100)
    queue.push({"message": {}})
    queue.push({"chat_member": {}})
    queue.push({"callback_query": {}})
    assert _ids(queue.take(100)) == [1, 3]
    queue.set_allowed(["callback_query"])
    assert _ids(queue.take(100)) == [3]
    queue.set_allowed([])  # an empty list restores the default
    queue.push({"message": {}})
    assert _ids(queue.take(100)) == [3, 4]


def test_pending_updates_are_bounded() -> None:
    queue = UpdateQueue(max_pending=3)
    for _ in range(5):
        queue.push({"message": {}})
    assert _ids(queue.take(100)) == [3, 4, 5]


def test_learner_messages_share_the_chats_message_ids_and_are_recorded() -> None:
    state = SandboxState(SandboxConfig(), wall_clock=lambda: 1_700_000_000.5)
    state.add_user(42, "Olga", language_code="uk")
    learners = Learners(state)
    first = learners.text(42, "/start")["message"]
    second = learners.media(42, "voice")["message"]
    assert (first["message_id"], second["message_id"]) == (1, 2)
    assert first["date"] == 1_700_000_000
    assert first["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert second["voice"]["file_id"] in state.files
    assert [record["method"] for record in state.messages(42, include_learner=True)] == [
        "learner:text",
        "learner:voice",
    ]
    assert state.messages(42) == []  # only what the bot sent, by default


def test_history_per_chat_is_bounded_but_counted() -> None:
    state = SandboxState(SandboxConfig(history_per_chat=2))
    state.add_user(42, "Olga")
    learners = Learners(state)
    for index in range(5):
        learners.text(42, f"zpráva {index}")
    assert [record["text"] for record in state.messages(42, include_learner=True)] == ["zpráva 3", "zpráva 4"]


def test_png_size_and_photo_sizes() -> None:
    assert image_size(png_bytes(30, 20)) == ("png", 30, 20)
    assert image_size(b"GIF89a\x10\x00\x08\x00") == ("gif", 16, 8)
    assert image_size(b"not an image") is None
    assert photo_sizes(1600, 800) == [(90, 45), (320, 160), (800, 400), (1280, 640), (1600, 800)]
    assert photo_sizes(50, 50) == [(50, 50)]


def test_faults_are_reproducible_from_the_seed() -> None:
    config = FaultsConfig(error_rate=0.2, rate_limit_rate=0.2, drop_rate=0.2, seed=7)
    first = [FaultInjector(config).send_fault() for _ in range(1)]
    injector_a, injector_b = FaultInjector(config), FaultInjector(config)
    draws_a = [injector_a.send_fault() for _ in range(500)]
    draws_b = [injector_b.send_fault() for _ in range(500)]
    assert draws_a == draws_b and draws_a[:1] == first
    shares = {fault: draws_a.count(fault) / 500 for fault in Fault}
    for fault in (Fault.SERVER_ERROR, Fault.RATE_LIMIT, Fault.DROP):
        assert 0.12 < shares[fault] < 0.28
    assert FaultInjector(FaultsConfig()).send_fault() is Fault.NONE


def test_fault_shares_must_fit_in_one() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        FaultsConfig(error_rate=0.6, drop_rate=0.6)
    latency = FaultInjector(FaultsConfig(latency_ms=10, latency_max_ms=20))
    assert all(0.01 <= latency.latency() <= 0.02 for _ in range(100))
