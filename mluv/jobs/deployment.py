"""One Redis for several deployments: the namespace of every key, and the deployment marker.

arq's queue names are ours, but its job keys (`arq:job:<id>`, `arq:in-progress:<id>`, `arq:retry:<id>`,
`arq:result:<id>`) are global, keyed by the job id alone: two deployments on one Redis database would run
each other's jobs, and a deterministic id (a reminder's) would collide. So:

- `RedisNamespace` (REDIS_NAMESPACE, default "mluv") names this deployment's keys: `<ns>:queue:fast`,
  `<ns>:metrics…`, and, outside the default namespace, job ids `<ns>:<id>`, so arq's keys become
  `arq:job:<ns>:<id>`. The pool carries it (`namespace_of(pool)`): whoever holds the pool builds keys
  with it; the modules' constants are spelled in the default namespace and mapped with `rekey`.
- The marker `<ns>:deployment` holds the identity of the deployment that uses the namespace (SET NX at
  start). Another identity refuses to start with `DeploymentConflict`, naming both and the ways out.
  It never expires: a deployment stopped for a week keeps its claim; `mluv redis release-marker` retires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from redis.asyncio import Redis

from mluv.logs import get_logger
from mluv.settings import Settings, mask_url

log = get_logger(__name__)

DEFAULT_NAMESPACE: Final = "mluv"
_DEFAULT_PREFIX: Final = f"{DEFAULT_NAMESPACE}:"

# KEYS: marker; ARGV: identity expected. Deletes the marker only while that identity still holds it.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class RedisNamespace:
    """How this deployment names its Redis keys, queues and job ids."""

    name: str = DEFAULT_NAMESPACE

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAMESPACE

    def key(self, rest: str) -> str:
        return f"{self.name}:{rest}"

    def rekey(self, key: str) -> str:
        """A name spelled in the default namespace (`mluv:…`, a module's constant), in this one."""
        if self.is_default or not key.startswith(_DEFAULT_PREFIX):
            return key
        return self.key(key[len(_DEFAULT_PREFIX) :])

    def queue_name(self, queue: str) -> str:
        """A queue's name here (`Queue.FAST.value` is the default namespace's); idempotent."""
        return self.rekey(queue)

    def health_check_key(self, queue: str) -> str:
        # arq's convention (<queue><health_check_key_suffix>), so `arq --check` finds it.
        return f"{self.queue_name(queue)}:health-check"

    def job_id(self, job_id: str) -> str:
        """The id arq stores: `<ns>:<id>` outside the default namespace; idempotent, so an id read back
        from arq (a dead letter's, a worker's ctx) maps to itself."""
        if self.is_default or job_id.startswith(f"{self.name}:"):
            return job_id
        return self.key(job_id)

    def local_id(self, job_id: str) -> str:
        """The id as its code named it (`job_id`'s inverse): a cron tick is read from it."""
        if self.is_default:
            return job_id
        return job_id.removeprefix(f"{self.name}:")

    @property
    def marker_key(self) -> str:
        return self.key("deployment")


def namespace_of(redis: Redis | None) -> RedisNamespace:
    """The namespace a pool carries (mluv.jobs.wake.WakingRedis); any other client: the default."""
    namespace = getattr(redis, "namespace", None)
    return namespace if isinstance(namespace, RedisNamespace) else RedisNamespace()


def settings_namespace(settings: Settings) -> RedisNamespace:
    return RedisNamespace(settings.redis_namespace)


class DeploymentConflictError(RuntimeError):
    """Another deployment holds this namespace of this Redis database."""


def deployment_identity(settings: Settings) -> str:
    """DEPLOYMENT_NAME, else what tells deployments apart without a secret: database and bot id."""
    if settings.deployment_name:
        return settings.deployment_name
    parts = urlsplit(settings.database_url or "")
    database = parts.path.lstrip("/") or "?"
    host = parts.hostname or "?"
    # A token is "<bot id>:<secret>": only the id, public anyway, goes into the marker.
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    bot = token.split(":", 1)[0] if token else "sandbox"
    return f"{database}@{host}:{parts.port or 5432} bot {bot}"


def conflict_message(settings: Settings, namespace: RedisNamespace, holder: str, identity: str) -> str:
    return (
        f"Redis {mask_url(settings.redis_url)} (namespace {namespace.name!r}) belongs to deployment "
        f"{holder!r}, but this deployment is {identity!r}; two deployments there would run each other's "
        "jobs. Use another Redis database for this one (REDIS_URL=redis://…/<db>) or a namespace of its "
        f"own (REDIS_NAMESPACE=<name>); if {holder!r} is retired, release its marker: "
        f"`mluv redis release-marker --deployment '{holder}'`."
    )


async def read_marker(redis: Redis, namespace: RedisNamespace) -> str | None:
    raw = await redis.get(namespace.marker_key)
    return raw.decode() if isinstance(raw, bytes) else raw


async def claim_deployment(redis: Redis, settings: Settings) -> str:
    """Claim the namespace for this deployment, or raise DeploymentConflictError; returns the identity."""
    namespace = settings_namespace(settings)
    identity = deployment_identity(settings)
    for _ in range(3):  # the marker may be released between our SET NX and GET: claim again
        if await redis.set(namespace.marker_key, identity, nx=True):
            log.info("deployment marker claimed", namespace=namespace.name, deployment=identity)
            return identity
        holder = await read_marker(redis, namespace)
        if holder == identity:
            return identity
        if holder is not None:
            raise DeploymentConflictError(conflict_message(settings, namespace, holder, identity))
    raise DeploymentConflictError(f"could not claim the deployment marker {namespace.marker_key}")


async def release_deployment(redis: Redis, namespace: RedisNamespace, identity: str) -> bool:
    """Delete the marker if `identity` holds it; False when another deployment (or none) does."""
    released = await redis.eval(RELEASE_SCRIPT, 1, namespace.marker_key, identity)  # type: ignore[misc]
    return bool(released)
