"""Who may see the dashboard and /metrics: credentials, sessions, CSRF, login throttling.

- No default credentials. DASHBOARD_TOKEN and/or DASHBOARD_PASSWORD_HASH turn the dashboard on; without
  them it is off, except in development with the web server bound to loopback (then it is open, with a
  banner, and still only to loopback clients that came through no proxy).
- Login sets a random session id in a cookie (HttpOnly, SameSite=Strict, Path=/dashboard, Secure behind
  HTTPS); the session lives in Redis with its CSRF token and a fingerprint of the credentials, so rotating
  DASHBOARD_TOKEN logs everybody out.
- Every comparison of a secret is constant-time (hmac.compare_digest over digests of equal length), and
  takes any header or cookie text, however malformed (non-ASCII, undecodable bytes), without raising.
- Login attempts are counted atomically in Redis before the password is checked, per client IP and per
  IPv6 /64: past LOGIN_MAX_ATTEMPTS in LOGIN_WINDOW the client gets 429; scrypt runs in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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

from mluv.jobs.deployment import namespace_of
from mluv.settings import Environment, Settings

SESSION_COOKIE = "mluv_dashboard"
LOGIN_CSRF_COOKIE = "mluv_dashboard_login"
COOKIE_PATH = "/dashboard"
SESSION_SECONDS = 12 * 3600
SESSION_KEY_PREFIX = "mluv:dashboard:session:"
LOGIN_ATTEMPTS_KEY_PREFIX = "mluv:dashboard:login-attempts:"
# Failed attempts a client (an IP, or an IPv6 /64: one subscriber's whole prefix) may make per window.
LOGIN_MAX_ATTEMPTS = 10
LOGIN_WINDOW = 15 * 60
IPV6_PREFIX = 64
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
            raw_bytes(password),
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


def raw_bytes(text: str) -> bytes:
    """The bytes a header or cookie arrived as: aiohttp keeps undecodable bytes as surrogates."""
    return text.encode("utf-8", "surrogateescape")


def secret_equals(given: str, expected: str) -> bool:
    """Constant-time, and independent of the lengths: compare SHA-256 digests."""
    return hmac.compare_digest(
        hashlib.sha256(raw_bytes(given)).digest(), hashlib.sha256(raw_bytes(expected)).digest()
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


async def check_credentials_off_loop(settings: Settings, given: str) -> bool:
    # scrypt takes ~50 ms of CPU: in a thread, the event loop keeps serving the webhook meanwhile.
    return await asyncio.to_thread(check_credentials, settings, given)


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
        for candidate in (
            request.headers.get("Fly-Client-IP", ""),
            request.headers.get("X-Forwarded-For", "").split(",")[0],
        ):
            # Only a well-formed address: it becomes a Redis key and a log field.
            with contextlib.suppress(ValueError):
                return ipaddress.ip_address(candidate.strip()).compressed
    return peer


def is_direct_loopback(request: web.Request) -> bool:
    """A loopback client that came through no proxy (open development mode serves only these)."""
    proxied = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "Fly-Client-IP"))
    return not proxied and is_loopback_host(request.remote or "")


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def open_mode_allowed(request: web.Request) -> bool:
    """What open (development) mode serves: a loopback peer, no proxy, and a loopback Host header (a
    DNS-rebinding page on another name gets nothing)."""
    return is_direct_loopback(request) and is_loopback_host(_host_name(request.host or ""))


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
    return SESSION_KEY_PREFIX + hashlib.sha256(raw_bytes(session_id)).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.fingerprint = credentials_fingerprint(settings)
        self.namespace = namespace_of(redis)

    async def create(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time())
        value = {"csrf": session.csrf, "created_at": session.created_at, "credentials": self.fingerprint}
        key = self.namespace.rekey(_session_key(session.session_id))
        await self.redis.set(key, json.dumps(value), ex=SESSION_SECONDS)
        return session

    async def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        raw = await self.redis.get(self.namespace.rekey(_session_key(session_id)))
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
        await self.redis.delete(self.namespace.rekey(_session_key(session_id)))


def throttle_keys(ip: str) -> list[str]:
    """The budgets one login attempt spends: its address, and for IPv6 its /64 (one host's whole prefix)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:  # no address known ("unknown"): one shared budget
        return [f"{LOGIN_ATTEMPTS_KEY_PREFIX}other:{hashlib.sha256(raw_bytes(ip)).hexdigest()}"]
    keys = [f"{LOGIN_ATTEMPTS_KEY_PREFIX}ip:{address.compressed}"]
    if address.version == 6:
        network = ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False)
        keys.append(f"{LOGIN_ATTEMPTS_KEY_PREFIX}net:{network.compressed}")
    return keys


# Counts the attempt on every key (the window starts at a key's first attempt), then answers the longest
# wait among keys past the limit, or 0: one round trip, so parallel attempts cannot all pass the check.
_ATTEMPT_SCRIPT = """
local wait = 0
for _, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[2]) end
  if count > tonumber(ARGV[1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then redis.call('EXPIRE', key, ARGV[2]); ttl = tonumber(ARGV[2]) end
    if ttl > wait then wait = ttl end
  end
end
return wait
"""
# DECR only a live counter: on an expired key it would leave -1 without a TTL, a budget that never ends.
_REFUND_SCRIPT = """
for _, key in ipairs(KEYS) do
  local count = redis.call('GET', key)
  if count and tonumber(count) > 0 then redis.call('DECR', key) end
end
return 0
"""


class LoginThrottle:
    """Every attempt is counted before the password is checked; a success gives the address's back."""

    def __init__(self, redis: Redis, max_attempts: int = LOGIN_MAX_ATTEMPTS, window: int = LOGIN_WINDOW):
        self.redis = redis
        self.max_attempts = max_attempts
        self.window = window
        self.namespace = namespace_of(redis)
        self._script = redis.register_script(_ATTEMPT_SCRIPT)
        self._refund = redis.register_script(_REFUND_SCRIPT)

    async def attempt(self, ip: str) -> int | None:
        """Count one attempt; the seconds this client must wait if it is over the limit, else None."""
        keys = [self.namespace.rekey(key) for key in throttle_keys(ip)]
        wait = int(await self._script(keys=keys, args=[self.max_attempts, self.window]))
        return wait if wait > 0 else None

    async def succeeded(self, ip: str) -> None:
        # A right password gives its attempt back, so only failures use up the budget.
        await self._refund(keys=[self.namespace.rekey(key) for key in throttle_keys(ip)])


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on POST; when present it must name this host (a second line behind CSRF)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    host = origin.split("://", 1)[-1].rstrip("/")
    return host.lower() == (request.host or "").lower()
