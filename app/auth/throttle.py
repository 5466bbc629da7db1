"""Failed-attempt throttling and the bound on concurrent Argon2 work.

Secrets are 256-bit: guessing one is hopeless, so the throttle exists to stop attackers burning
CPU, and it must never become a way to lock a key's owner out. Attempts are therefore counted
per attacker, never per key:

- on a key id that exists, per (client address, key id): failures from elsewhere, or on other
  key ids from the same address, do not touch the owner;
- on an unknown key id or a malformed key, per client address (the stand-in Argon2 check those
  cost is bounded without involving any real key).

A slot is reserved atomically *before* the Argon2 check and given back when the secret proves
right, so no number of concurrent wrong secrets gets more checks than the limit (reading the
count before and writing it after let 57 of 100 through a limit of 10). A correct secret that
was verified recently skips all of this: the caller consults the verified cache first.
"""

from __future__ import annotations

import asyncio

from app.auth import keys
from app.config import Settings
from app.errors import TooManyRequests
from app.observability import metrics
from app.ratelimit.limiter import Hit, Limiter, Refused, Reservation, policy_headers

POLICY = "auth-failures"


class AuthThrottle:
    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self._limiter = limiter
        self._settings = settings
        # Argon2 runs in worker threads, each holding ~19 MiB for tens of milliseconds: bounded
        # per process so a flood of attempts queues instead of exhausting memory and CPU.
        self._argon2 = asyncio.Semaphore(settings.auth_verify_concurrency)

    async def reserve(self, client: str | None, key_id: str | None) -> Reservation:
        """A failure slot for one attempt, or 429 when this attacker's budget is spent.

        ``key_id`` is that of an existing key, None for unknown or malformed ones."""
        address = client or "unknown"
        window = self._settings.auth_failure_window_s
        if key_id is None:
            hit = Hit(
                POLICY,
                f"authfail:client:{address}",
                1,
                self._settings.auth_failures_per_client,
                window,
            )
        else:
            hit = Hit(
                POLICY,
                f"authfail:pair:{address}:{key_id}",
                1,
                self._settings.auth_failures_per_key,
                window,
            )
        try:
            return await self._limiter.reserve([hit])
        except Refused as refused:
            metrics.RATE_LIMITED.labels(kind="auth_failures").inc()
            error = TooManyRequests(
                "too many failed authentication attempts", retry_after=refused.decision.reset_s
            )
            error.headers.update(policy_headers([refused.decision]))
            raise error from None

    async def release(self, reservation: Reservation) -> None:
        """The attempt succeeded: its slot does not count as a failure."""
        await self._limiter.release(reservation)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        async with self._argon2:
            return await asyncio.to_thread(keys.verify, secret_hash, secret)
