"""Who may see the dashboard and /metrics: credentials, sessions, CSRF, login throttling.

- No default credentials. DASHBOARD_TOKEN and/or DASHBOARD_PASSWORD_HASH turn the dashboard on; without
  them it is off, except in development with the web server bound to loopback (then it is open, with a
  banner, and still only to loopback clients that came through no proxy).
- Login sets a random session id in a cookie (HttpOnly, SameSite=Strict, Path=/dashboard, Secure behind
  HTTPS); the session lives in Redis with its CSRF token and a fingerprint of the credentials, so rotating
  DASHBOARD_TOKEN logs everybody out.
- Every comparison of a secret is constant-time (hmac.compare_digest over digests of equal length).
- Failed logins are counted per client IP in Redis; past LOGIN_MAX_FAILURES the IP waits LOGIN_WINDOW.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from mluv.settings import Environment, Settings

SESSION_COOKIE = "mluv_dashboard"
LOGIN_CSRF_COOKIE = "mluv_dashboard_login"
COOKIE_PATH = "/dashboard"
SESSION_SECONDS = 12 * 3600
SESSION_KEY_PREFIX = "mluv:dashboard:session:"
LOGIN_FAILURES_KEY_PREFIX = "mluv:dashboard:login-failures:"
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW = 15 * 60
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"

# scrypt cost: ~16 MiB and ~50 ms per check, which makes a stolen hash slow to brute-force.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024


class Access(StrEnum):
    OFF = "off"  # no credentials configured: nothing is served
    OPEN = "open"  # development on loopback without credentials: served with a warning banner
    PROTECTED = "protected"  # login required


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A DASHBOARD_PASSWORD_HASH value: scrypt$n$r$p$salt$hash (URL-safe base64, no padding)."""
    if len(password) < 12:
        raise ValueError("use a password of at least 12 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=SCRYPT_MAXMEM,
            dklen=len(_unb64(expected)),
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def secret_equals(given: str, expected: str) -> bool:
    """Constant-time, and independent of the lengths: compare SHA-256 digests."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def is_loopback_host(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard_access(settings: Settings) -> Access:
    if settings.dashboard_token is not None or settings.dashboard_password_hash is not None:
        return Access.PROTECTED
    if settings.environment is Environment.DEVELOPMENT and is_loopback_host(settings.web_host):
        return Access.OPEN
    return Access.OFF


def check_credentials(settings: Settings, given: str) -> bool:
    """True if `given` is the dashboard token or the password; both checks always run (same timing)."""
    token_ok = password_ok = False
    if settings.dashboard_token is not None:
        token_ok = secret_equals(given, settings.dashboard_token.get_secret_value())
    if settings.dashboard_password_hash is not None:
        password_ok = verify_password(given, settings.dashboard_password_hash.get_secret_value())
    return token_ok or password_ok


def credentials_fingerprint(settings: Settings) -> str:
    """Changes whenever the credentials do, so sessions made with old credentials stop working."""
    parts = [
        settings.dashboard_token.get_secret_value() if settings.dashboard_token else "",
        settings.dashboard_password_hash.get_secret_value() if settings.dashboard_password_hash else "",
    ]
    return hmac.new(b"mluv-dashboard-session", "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback


def client_ip(request: web.Request) -> str:
    """The client's address; proxy headers count only when the peer itself is on a private network.

    On fly.io the peer is fly-proxy (private 6PN address) and Fly-Client-IP names the client; a client
    reaching the server directly cannot pick its own throttling key by sending these headers.
    """
    peer = request.remote or "unknown"
    if _is_private(peer):
        fly = request.headers.get("Fly-Client-IP", "").strip()
        if fly:
            return fly
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded.strip():
            return forwarded.split(",")[0].strip()
    return peer


def is_direct_loopback(request: web.Request) -> bool:
    """A loopback client that came through no proxy (open development mode serves only these)."""
    proxied = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "Fly-Client-IP"))
    return not proxied and is_loopback_host(request.remote or "")


def is_https(request: web.Request, settings: Settings) -> bool:
    forwarded_proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded_proto == "https" or settings.is_production


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# --- sessions and login throttling (Redis) -----------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    session_id: str
    csrf: str
    created_at: float


def _session_key(session_id: str) -> str:
    # Only a digest of the id is stored, so reading Redis does not hand out working cookies.
    return SESSION_KEY_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.fingerprint = credentials_fingerprint(settings)

    async def create(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time())
        value = {"csrf": session.csrf, "created_at": session.created_at, "credentials": self.fingerprint}
        await self.redis.set(_session_key(session.session_id), json.dumps(value), ex=SESSION_SECONDS)
        return session

    async def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        raw = await self.redis.get(_session_key(session_id))
        if raw is None:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError:
            return None
        if not secret_equals(str(data.get("credentials", "")), self.fingerprint):
            return None
        return Session(session_id, str(data["csrf"]), float(data["created_at"]))

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(_session_key(session_id))


class LoginThrottle:
    def __init__(self, redis: Redis, max_failures: int = LOGIN_MAX_FAILURES, window: int = LOGIN_WINDOW):
        self.redis = redis
        self.max_failures = max_failures
        self.window = window

    def _key(self, ip: str) -> str:
        return LOGIN_FAILURES_KEY_PREFIX + ip

    async def retry_after(self, ip: str) -> int | None:
        """Seconds this IP must wait before trying again, or None if it may try now."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key(ip))
            pipe.ttl(self._key(ip))
            count, ttl = await pipe.execute()
        if count is not None and int(count) >= self.max_failures:
            return max(int(ttl), 1)
        return None

    async def failed(self, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            # The window starts at the first failure (SET NX) and INCR keeps its TTL: later failures do
            # not extend it. (EXPIRE ... NX would need Redis 7.)
            pipe.set(self._key(ip), 0, ex=self.window, nx=True)
            pipe.incr(self._key(ip))
            await pipe.execute()

    async def reset(self, ip: str) -> None:
        await self.redis.delete(self._key(ip))


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on POST; when present it must name this host (a second line behind CSRF)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    host = origin.split("://", 1)[-1].rstrip("/")
    return host.lower() == (request.host or "").lower()
