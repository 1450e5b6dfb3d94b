"""Rate limits of the web app (sign-ups per client, confirmation emails per mailbox and per domain, the editor's
failed logins): O(1) per check, bounded memory, safe under threads, and shared between processes.

Each limit counts events in fixed windows and estimates a sliding window from the current and the previous
one (``previous * (1 - elapsed) + current``): two counters per key whatever the traffic. The counters live in
Redis when ``DIGEST_REDIS_URL`` is set, else in PostgreSQL when that is the database, else in the process's
memory (one `digest serve` process). Keys are hashed before they are stored: they hold addresses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, text

from digest.errors import ConfigError

# The in-memory store forgets the least recently seen key past this many (a few MB at most).
MEMORY_KEYS = 100_000
# How often (one call in N) the PostgreSQL store deletes windows that ended.
PURGE_ONE_IN = 256


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``events`` per ``window`` seconds for each key of the limit called ``name``."""

    name: str
    events: int
    window: float


class Counters(Protocol):
    """Where the windows' counters live."""

    def add(self, key: str, slot: int, ttl: float, undo_above: float | None, previous_weight: float) -> float:
        """Count one event of ``key`` in window ``slot``; return the sliding estimate including it. When the
        estimate is over ``undo_above`` the event is taken back (refused events do not count)."""
        ...

    def estimate(self, key: str, slot: int, previous_weight: float) -> float:
        """The sliding estimate of ``key`` without counting anything."""
        ...


class RateLimits:
    """Checks :class:`Limit`\\s against one :class:`Counters` store; ``clock`` is Unix time (tests pass theirs)."""

    def __init__(self, counters: Counters, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self.clock = clock

    def _position(self, limit: Limit) -> tuple[int, float]:
        position = self.clock() / limit.window
        slot = math.floor(position)
        return slot, position - slot

    def hit(self, limit: Limit, key: str) -> float | None:
        """Count one event for ``key``: None when within the limit, else the seconds to wait (not counted)."""
        slot, elapsed = self._position(limit)
        stored = _stored_key(limit, key)
        estimate = self.counters.add(stored, slot, 2 * limit.window, limit.events, 1 - elapsed)
        if estimate <= limit.events:
            return None
        return (1 - elapsed) * limit.window

    def blocked(self, limit: Limit, key: str) -> float | None:
        """Seconds to wait when ``key`` already reached the limit, else None (counts nothing)."""
        slot, elapsed = self._position(limit)
        if self.counters.estimate(_stored_key(limit, key), slot, 1 - elapsed) < limit.events:
            return None
        return (1 - elapsed) * limit.window

    def count(self, limit: Limit, key: str) -> None:
        """Count one event for ``key`` whatever the limit says (failures: they count even once blocked)."""
        slot, elapsed = self._position(limit)
        self.counters.add(_stored_key(limit, key), slot, 2 * limit.window, None, 1 - elapsed)


def _stored_key(limit: Limit, key: str) -> str:
    return hashlib.sha256(f"{limit.name}:{limit.window:g}:{key}".encode()).hexdigest()


class MemoryCounters:
    """Counters in this process's memory, least recently used keys forgotten past ``max_keys``."""

    def __init__(self, max_keys: int = MEMORY_KEYS) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # key -> [slot, current count, previous count]
        self._windows: OrderedDict[str, list[int]] = OrderedDict()

    def _window(self, key: str, slot: int) -> list[int]:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = [slot, 0, 0]
            if len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
            if window[0] != slot:
                window[:] = [slot, 0, window[1] if window[0] == slot - 1 else 0]
        return window

    def add(self, key: str, slot: int, ttl: float, undo_above: float | None, previous_weight: float) -> float:
        with self._lock:
            window = self._window(key, slot)
            window[1] += 1
            estimate = window[2] * previous_weight + window[1]
            if undo_above is not None and estimate > undo_above:
                window[1] -= 1
            return estimate

    def estimate(self, key: str, slot: int, previous_weight: float) -> float:
        with self._lock:
            window = self._window(key, slot)
            return window[2] * previous_weight + window[1]

    def __len__(self) -> int:
        return len(self._windows)


class RedisCounters:
    """Counters in Redis: one key per window, expiring on its own, so every process sees the same counts."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as err:
            raise ConfigError("DIGEST_REDIS_URL is set but the redis package is missing: pip install redis") from err
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, key: str, slot: int, ttl: float, undo_above: float | None, previous_weight: float) -> float:
        current, previous = f"digest:limit:{key}:{slot}", f"digest:limit:{key}:{slot - 1}"
        pipe = self._redis.pipeline()
        pipe.incr(current)
        pipe.expire(current, math.ceil(ttl))
        pipe.get(previous)
        count, _, before = pipe.execute()
        estimate = int(before or 0) * previous_weight + int(count)
        if undo_above is not None and estimate > undo_above:
            self._redis.decr(current)
        return estimate

    def estimate(self, key: str, slot: int, previous_weight: float) -> float:
        count, before = self._redis.mget(f"digest:limit:{key}:{slot}", f"digest:limit:{key}:{slot - 1}")
        return int(before or 0) * previous_weight + int(count or 0)


class DatabaseCounters:
    """Counters in the ``rate_limit`` table (PostgreSQL): one upsert per event, ended windows purged now and then."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key: str, slot: int, ttl: float, undo_above: float | None, previous_weight: float) -> float:
        now = time.time()
        with self.engine.begin() as connection:
            count = connection.execute(
                text(
                    "INSERT INTO rate_limit (key, slot, hits, expires_at) VALUES (:key, :slot, 1, :expires) "
                    "ON CONFLICT (key, slot) DO UPDATE SET hits = rate_limit.hits + 1 RETURNING hits"
                ),
                {"key": key, "slot": slot, "expires": now + ttl},
            ).scalar_one()
            before = connection.execute(
                text("SELECT hits FROM rate_limit WHERE key = :key AND slot = :slot"), {"key": key, "slot": slot - 1}
            ).scalar()
            estimate = int(before or 0) * previous_weight + int(count)
            if undo_above is not None and estimate > undo_above:
                connection.execute(
                    text("UPDATE rate_limit SET hits = hits - 1 WHERE key = :key AND slot = :slot"),
                    {"key": key, "slot": slot},
                )
            if random.randrange(PURGE_ONE_IN) == 0:  # spreads the work; not a secret
                connection.execute(text("DELETE FROM rate_limit WHERE expires_at < :now"), {"now": now})
        return estimate

    def estimate(self, key: str, slot: int, previous_weight: float) -> float:
        with self.engine.connect() as connection:
            rows: dict[int, int] = dict(
                connection.execute(
                    text("SELECT slot, hits FROM rate_limit WHERE key = :key AND slot IN (:slot, :before)"),
                    {"key": key, "slot": slot, "before": slot - 1},
                ).all()
            )
        return int(rows.get(slot - 1, 0)) * previous_weight + int(rows.get(slot, 0))


def make_rate_limits(redis_url: str | None, engine: Engine) -> RateLimits:
    """The app's limits: in Redis, else PostgreSQL, else this process's memory."""
    if redis_url:
        return RateLimits(RedisCounters(redis_url))
    if engine.dialect.name == "postgresql":
        return RateLimits(DatabaseCounters(engine))
    return RateLimits(MemoryCounters())


def client_key(address: str) -> str:
    """The key a client is counted under: its IPv4 address, or its IPv6 /64 (one subscriber's whole network)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def mailbox_and_domain(address: str) -> tuple[str, str]:
    """The mailbox an address delivers to, for limits (``Amina+news@Example.com`` -> ``amina@example.com``), and
    its domain: sub-addresses (``+tag``) reach one inbox, so they share its limit."""
    local, _, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0].lower()}@{domain.lower()}", domain.lower()


def peer_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: ``peer`` (the TCP connection's), or when ``peer`` is one of the ``trusted`` proxies
    the right-most ``X-Forwarded-For`` address that is not a trusted proxy (the left ones are the client's say)."""
    if peer is None:
        return "unknown"
    networks = [ipaddress.ip_network(network, strict=False) for network in trusted]

    def is_trusted(address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in networks)

    if not forwarded_for or not is_trusted(peer):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: count the proxy rather than believe it
    return peer
