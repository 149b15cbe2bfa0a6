"""The msgpack serializer: round trips, stored errors, and pickled payloads refused without running code."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import pickle
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from arq.connections import ArqRedis
from arq.jobs import (
    DeserializationError,
    Job,
    SerializationError,
    deserialize_job,
    deserialize_job_raw,
    deserialize_result,
    serialize_job,
    serialize_result,
)
from fakeredis.aioredis import FakeRedis
from pydantic import BaseModel

from mluv.jobs.serializer import StoredJobError, UnsafePayloadError, deserialize, serialize
from mluv.logs import REDACTED

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms"
CET = dt.timezone(dt.timedelta(hours=2))


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.StrEnum):
    A1 = "a1"


class Lesson(BaseModel):
    id: int
    title: str
    at: dt.datetime
    tags: list[str]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(42, 42, id="int"),
        pytest.param(-(2**63), -(2**63), id="min-int64"),
        pytest.param(2**64 - 1, 2**64 - 1, id="max-uint64"),
        pytest.param(1.5, 1.5, id="float"),
        pytest.param(None, None, id="none"),
        pytest.param(True, True, id="bool"),
        pytest.param("Dobrý den, jak se máš? 👋", "Dobrý den, jak se máš? 👋", id="unicode-str"),
        pytest.param(b"\x00\x80\xffbytes", b"\x00\x80\xffbytes", id="bytes"),
        pytest.param(
            {"a": [1, {"b": [2, 3]}, "c"], "d": {"e": None}},
            {"a": [1, {"b": [2, 3]}, "c"], "d": {"e": None}},
            id="nested-dict-list",
        ),
        pytest.param({1: "int key", 2: "two"}, {1: "int key", 2: "two"}, id="int-keys"),
        pytest.param((1, "a", (2,)), [1, "a", [2]], id="tuple-becomes-list"),
        pytest.param(
            dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC),
            dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC),
            id="datetime-utc",
        ),
        pytest.param(
            dt.datetime(2024, 5, 1, 14, 30, tzinfo=CET),
            dt.datetime(2024, 5, 1, 14, 30, tzinfo=CET),
            id="datetime-offset",
        ),
        pytest.param(dt.datetime(2024, 5, 1, 12, 0), dt.datetime(2024, 5, 1, 12, 0), id="datetime-naive"),
        pytest.param(dt.date(2024, 2, 29), dt.date(2024, 2, 29), id="date"),
        pytest.param(decimal.Decimal("12.345"), decimal.Decimal("12.345"), id="decimal"),
        pytest.param(decimal.Decimal("-0.000001"), decimal.Decimal("-0.000001"), id="decimal-small"),
        pytest.param(
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            id="uuid",
        ),
        pytest.param({3, 1, 2}, {1, 2, 3}, id="set-of-ints"),
        pytest.param(frozenset({"b", "a"}), {"a", "b"}, id="frozenset-becomes-set"),
        pytest.param(
            {dt.date(2024, 1, 1), dt.date(2024, 1, 2)},
            {dt.date(2024, 1, 1), dt.date(2024, 1, 2)},
            id="set-of-dates",
        ),
        pytest.param(Colour.RED, "red", id="enum-str-value"),
        pytest.param(Colour.BLUE, 2, id="enum-int-value"),
        pytest.param(Level.A1, "a1", id="str-enum"),
        pytest.param(
            Lesson(id=7, title="Pády", at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), tags=["gramatika"]),
            {"id": 7, "title": "Pády", "at": "2024-05-01T00:00:00Z", "tags": ["gramatika"]},
            id="pydantic-model-becomes-dict",
        ),
        pytest.param(
            {
                "when": dt.date(2024, 5, 1),
                "ids": [uuid.UUID(int=1)],
                "amounts": {"x": decimal.Decimal("1.10")},
            },
            {
                "when": dt.date(2024, 5, 1),
                "ids": [uuid.UUID(int=1)],
                "amounts": {"x": decimal.Decimal("1.10")},
            },
            id="extensions-nested",
        ),
    ],
)
def test_round_trip(value: Any, expected: Any) -> None:
    payload = serialize(value)
    assert isinstance(payload, bytes)
    result = deserialize(payload)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2024, 5, 1, 14, 30, tzinfo=CET),
        dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        dt.datetime(2024, 5, 1, 12, 0),
    ],
    ids=["offset", "utc", "naive"],
)
def test_datetime_keeps_its_offset(value: dt.datetime) -> None:
    result = deserialize(serialize(value))
    assert result.utcoffset() == value.utcoffset()
    assert result.isoformat() == value.isoformat()


def test_exception_becomes_stored_job_error_with_redacted_message() -> None:
    error = PermissionError(f"bot was blocked; url https://api.telegram.org/bot{TOKEN}/sendMessage")
    result = deserialize(serialize({"r": error}))["r"]
    assert isinstance(result, StoredJobError)
    assert result.type_name == "PermissionError"
    assert result.message == f"bot was blocked; url https://api.telegram.org/bot{REDACTED}/sendMessage"
    assert str(result) == f"PermissionError: {result.message}"
    assert TOKEN not in str(result)


def test_exception_without_message() -> None:
    class QuotaExceeded(Exception):
        pass

    result = deserialize(serialize(QuotaExceeded()))
    assert isinstance(result, StoredJobError)
    assert (result.type_name, result.message, str(result)) == ("QuotaExceeded", "", "QuotaExceeded")


def test_stored_job_error_round_trips_unchanged() -> None:
    stored = StoredJobError("TelegramForbiddenError", "Forbidden: bot was blocked by the user")
    result = deserialize(serialize(stored))
    assert isinstance(result, StoredJobError)
    assert (result.type_name, result.message) == (stored.type_name, stored.message)


@pytest.mark.parametrize(
    "value",
    [object(), Path("/tmp/x"), dt.timedelta(seconds=5), lambda: 1],
    ids=["object", "path", "timedelta", "lambda"],
)
def test_unsupported_values_refused_at_serialize(value: Any) -> None:
    with pytest.raises(TypeError, match=r"cannot serialize \w+ for a job: pass ids and plain values"):
        serialize({"x": value})


# Pickled payloads: refused, and nothing in them runs.

_armed_calls: list[str] = []


def _plant(marker: str) -> str:
    """What a planted pickle would run on load (os.system in a real attack)."""
    _armed_calls.append(marker)
    Path(marker).write_text("pwned", encoding="utf-8")
    return marker


class Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _plant, (self.marker,)


PROTOCOLS = list(range(pickle.HIGHEST_PROTOCOL + 1))


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[f"protocol-{p}" for p in PROTOCOLS])
def test_pickled_payload_refused(protocol: int) -> None:
    payload = pickle.dumps({"f": "ping", "a": (), "k": {"token": "x"}, "t": 1, "et": 1}, protocol=protocol)
    with pytest.raises(UnsafePayloadError):
        deserialize(payload)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[f"protocol-{p}" for p in PROTOCOLS])
def test_planted_pickle_runs_no_code(protocol: int, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(
        {"f": "ping", "a": (), "k": {"x": Exploit(str(marker))}, "t": 1, "et": 1}, protocol
    )
    _armed_calls.clear()

    with pytest.raises(UnsafePayloadError):
        deserialize(payload)
    # The same bytes through arq's job decoding with our deserializer.
    with pytest.raises(DeserializationError) as caught:
        deserialize_job_raw(payload, deserializer=deserialize)
    assert isinstance(caught.value.__cause__, UnsafePayloadError)

    assert _armed_calls == []
    assert not marker.exists()


def test_planted_pickle_is_armed() -> None:
    """Control for the test above: pickle itself does run the planted call."""
    marker = "control-marker-not-a-path"
    _armed_calls.clear()
    try:
        with pytest.raises(FileNotFoundError):
            pickle.loads(pickle.dumps(Exploit(f"/nonexistent-dir-{uuid.uuid4().hex}/{marker}")))
        assert len(_armed_calls) == 1
    finally:
        _armed_calls.clear()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(b"", "not a msgpack payload", id="empty"),
        pytest.param(b"\xc1", "not a msgpack payload", id="never-used-byte"),
        pytest.param(serialize({"a": 1}) + b"\x01", "not a msgpack payload", id="trailing-data"),
        pytest.param(serialize({"a": 1})[:-1], "not a msgpack payload", id="truncated"),
        pytest.param(
            msgpack.packb(msgpack.ExtType(42, b"x")), "unknown msgpack extension 42", id="unknown-extension"
        ),
        pytest.param(
            msgpack.packb({"r": msgpack.ExtType(5, msgpack.packb(["only-one"]))}),
            "not a msgpack payload",
            id="malformed-error-extension",
        ),
        pytest.param(b"\x80\x04\x95", "refusing a pickled payload", id="pickle-header"),
    ],
)
def test_garbage_refused(payload: bytes, message: str) -> None:
    with pytest.raises(UnsafePayloadError, match=message):
        deserialize(payload)


@pytest.mark.parametrize(
    ("value", "payload"),
    [({}, b"\x80"), ([], b"\x90"), ("", b"\xa0")],
    ids=["empty-dict", "empty-list", "empty-str"],
)
def test_empty_containers_round_trip(value: Any, payload: bytes) -> None:
    # msgpack's empty map is the single byte 0x80, pickle's PROTO opcode: only PROTO + version is refused.
    assert serialize(value) == payload
    assert deserialize(payload) == value


# arq integration


def test_arq_job_round_trip() -> None:
    kwargs = {"user_id": 42, "day": dt.date(2024, 5, 1), "ref": uuid.UUID(int=7), "tags": {"a", "b"}}
    payload = serialize_job("send_streak_reminder", (1, "x"), kwargs, 3, 1714521600123, serializer=serialize)
    assert payload[:1] != b"\x80"

    function, args, got_kwargs, job_try, enqueue_ms = deserialize_job_raw(payload, deserializer=deserialize)
    assert function == "send_streak_reminder"
    assert list(args) == [1, "x"]
    assert got_kwargs == kwargs
    assert (job_try, enqueue_ms) == (3, 1714521600123)

    job_def = deserialize_job(payload, deserializer=deserialize)
    assert job_def.enqueue_time == dt.datetime(2024, 5, 1, 0, 0, 0, 123000, tzinfo=dt.UTC)


def test_arq_refuses_to_serialize_unsupported_kwargs() -> None:
    with pytest.raises(SerializationError, match='unable to serialize job "f"'):
        serialize_job("f", (), {"bad": object()}, None, 0, serializer=serialize)


def _result_payload(result: Any, *, success: bool) -> bytes:
    payload = serialize_result(
        "send_streak_reminder",
        (),
        {"user_id": 42},
        2,
        1714521600000,
        success,
        result,
        1714521601000,
        1714521602000,
        "ref",
        "mluv:queue:fast",
        "job-1",
        serializer=serialize,
    )
    assert payload is not None
    return payload


def test_arq_result_with_exception_is_stored_job_error() -> None:
    error = ConnectionError(f"lost https://api.telegram.org/bot{TOKEN}/getMe")
    info = deserialize_result(_result_payload(error, success=False), deserializer=deserialize)
    assert info.success is False
    assert isinstance(info.result, StoredJobError)
    assert info.result.type_name == "ConnectionError"
    assert info.result.message == f"lost https://api.telegram.org/bot{REDACTED}/getMe"
    assert (info.job_id, info.queue_name, info.job_try, info.kwargs) == (
        "job-1",
        "mluv:queue:fast",
        2,
        {"user_id": 42},
    )


def test_arq_result_success() -> None:
    info = deserialize_result(_result_payload({"sent": 3}, success=True), deserializer=deserialize)
    assert (info.success, info.result) == (True, {"sent": 3})


@pytest.fixture
async def arq_pool() -> AsyncIterator[ArqRedis]:
    fake = FakeRedis()
    pool = ArqRedis(fake.connection_pool, job_serializer=serialize, job_deserializer=deserialize)
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_job_result_reraises_stored_job_error(arq_pool: ArqRedis) -> None:
    await arq_pool.set("arq:result:job-1", _result_payload(ValueError("bad input"), success=False))
    job = Job("job-1", arq_pool, _queue_name="mluv:queue:fast", _deserializer=deserialize)
    with pytest.raises(StoredJobError, match=r"^ValueError: bad input$"):
        await job.result(timeout=1)


async def test_enqueued_job_is_msgpack_in_redis(arq_pool: ArqRedis) -> None:
    job = await arq_pool.enqueue_job(
        "ping", _job_id="ping-1", _queue_name="mluv:queue:fast", token="t", when=dt.date(2024, 5, 1)
    )
    assert job is not None
    raw = await arq_pool.get("arq:job:ping-1")
    assert raw is not None
    # Plain msgpack, readable by any tool (extension types aside).
    plain = msgpack.unpackb(raw, raw=False)
    assert (plain["f"], plain["k"]["token"]) == ("ping", "t")
    info = await job.info()
    assert info is not None
    assert (info.function, info.kwargs) == ("ping", {"token": "t", "when": dt.date(2024, 5, 1)})


def test_the_chaos_suites_planted_bytes_are_armed_and_refused(tmp_path: Path) -> None:
    """bench/chaos.py pickled-payload writes these bytes by hand (no pickle in non-test code): pickle
    runs their command, this serializer refuses them, with arq's job decoding too."""
    from bench.chaos_security import planted

    refused, armed = tmp_path / "refused marker", tmp_path / "armed marker"
    with pytest.raises(UnsafePayloadError):
        deserialize(planted(refused))
    with pytest.raises(DeserializationError):
        deserialize_job_raw(planted(refused), deserializer=deserialize)
    assert not refused.exists()
    pickle.loads(planted(armed))  # the control: what arq's default serializer would do
    assert armed.exists()
