"""A safe serializer for arq: msgpack, never pickle.

arq pickles jobs and results by default, so anyone able to write to Redis could run code in a worker.
Both the enqueuing pool and the worker use `serialize`/`deserialize`; a pickled payload fails to decode
and the job fails without running. Failures are stored as `StoredJobError` (type, message), readable by any
tool, and re-raised as such by `Job.result()`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import msgpack
from pydantic import BaseModel

from mluv.logs import redact

_DATETIME, _DATE, _DECIMAL, _UUID, _EXCEPTION, _SET = range(1, 7)
# Pickle protocol 2+ payloads start with 0x80 (PROTO opcode): refuse them early with a clear message.
_PICKLE_PROTO = 0x80


class StoredJobError(Exception):
    """A job's exception as stored in Redis: its type name and (redacted) message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message


class UnsafePayloadError(ValueError):
    """The payload is not msgpack produced by this serializer (e.g. a planted pickle)."""


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return msgpack.ExtType(_DATETIME, value.isoformat().encode())
    if isinstance(value, dt.date):
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    if isinstance(value, decimal.Decimal):
        return msgpack.ExtType(_DECIMAL, str(value).encode())
    if isinstance(value, uuid.UUID):
        return msgpack.ExtType(_UUID, value.bytes)
    if isinstance(value, StoredJobError):
        return msgpack.ExtType(_EXCEPTION, msgpack.packb([value.type_name, value.message]))
    if isinstance(value, BaseException):
        name = type(value).__name__
        return msgpack.ExtType(_EXCEPTION, msgpack.packb([name, redact(str(value))]))
    if isinstance(value, set | frozenset):
        return msgpack.ExtType(_SET, msgpack.packb(sorted(value, key=repr), default=_default))
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialize {type(value).__name__} for a job: pass ids and plain values")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if code == _DATE:
        return dt.date.fromisoformat(data.decode())
    if code == _DECIMAL:
        return decimal.Decimal(data.decode())
    if code == _UUID:
        return uuid.UUID(bytes=data)
    if code == _EXCEPTION:
        type_name, message = msgpack.unpackb(data)
        return StoredJobError(str(type_name), str(message))
    if code == _SET:
        return set(msgpack.unpackb(data, ext_hook=_ext_hook, strict_map_key=False))
    raise UnsafePayloadError(f"unknown msgpack extension {code}")


def serialize(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, default=_default, use_bin_type=True, datetime=False)
    return packed


def deserialize(payload: bytes) -> Any:
    # A lone 0x80 is msgpack's empty map; pickle's PROTO opcode is always followed by a version byte.
    if len(payload) > 1 and payload[0] == _PICKLE_PROTO:
        raise UnsafePayloadError("refusing a pickled payload")
    try:
        return msgpack.unpackb(payload, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except UnsafePayloadError:
        raise
    except Exception as error:
        raise UnsafePayloadError(f"not a msgpack payload: {type(error).__name__}") from None
