"""Webhook delivery, off the request path: a queue, a background task, signed POSTs.

Each event goes to every enabled endpoint of its account and mode whose
``enabled_events`` match (https://docs.stripe.com/webhooks); an endpoint disabled or
deleted after the event was queued gets no further attempt. The body is the event's JSON; the header
``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` is what the
SDK's ``stripe.Webhook.construct_event`` checks (``stripe/_webhook.py``); ``t`` is real
time, so receivers' tolerance (300 s) holds even after the emulator's clock was moved.

An attempt succeeds on a 2xx answer; a timeout, connection error, redirect or other
status fails it and it is retried after ``retry_delay * 2**(attempt-1)`` seconds, up to
``max_attempts`` attempts (Stripe retries for 3 days; this schedule is compressed and
configurable). Every attempt is recorded in ``state.deliveries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass, replace

import aiohttp

from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.runtime import Emulator
from stripefleet.stripe_emulator.state import Obj

log = logging.getLogger(__name__)

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
MAX_CONCURRENT = 16


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class Job:
    """One delivery attempt to make."""

    event_id: str
    endpoint_id: str
    attempt: int = 1
    resend: bool = False


class Deliverer:
    """Delivers events to endpoints from a background task.

    Args:
        emu: the emulator (its config gives timeout, retry schedule and shuffling).
    """

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.config = emu.config
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.session: aiohttp.ClientSession | None = None
        self.runner: asyncio.Task[None] | None = None
        self.inflight: set[asyncio.Task[None]] = set()
        self.timers: set[asyncio.TimerHandle] = set()
        self.semaphore = asyncio.Semaphore(MAX_CONCURRENT)

    async def start(self) -> None:
        """Open the HTTP client and start the delivery task; plug into the emulator."""
        self.session = aiohttp.ClientSession()
        self.runner = asyncio.create_task(self._run())
        self.emu.enqueue = self.enqueue
        resumed = self._resume()
        if resumed:
            log.info("%d delivery(ies) left waiting by the last run: queued again", resumed)

    def _resume(self) -> int:
        """Queue again what a previous process left undelivered (``--state-file``): each
        event an enabled endpoint has not acknowledged and that has attempts left, at its
        next attempt, after that attempt's delay (the first at once). Returns how many."""
        state = self.emu.state
        tried: dict[tuple[str, str], int] = {}
        for delivery in state.deliveries:
            if not delivery.get("resend"):
                pair = (delivery["event_id"], delivery["endpoint_id"])
                tried[pair] = max(tried.get(pair, 0), int(delivery["attempt"]))
        count = 0
        for event_id, endpoint_ids in state.pending.items():
            for endpoint_id in endpoint_ids:
                endpoint = state.webhook_endpoints.get(endpoint_id)
                done = tried.get((event_id, endpoint_id), 0)
                if (event_id not in state.events or endpoint is None
                        or endpoint.get("status") == "disabled"
                        or done >= self.config.max_attempts):
                    continue
                job = Job(event_id, endpoint_id, done + 1)
                if done == 0:
                    self.queue.put_nowait(job)
                else:
                    self._later(self.config.retry_delay * 2 ** (done - 1), job)
                count += 1
        return count

    async def stop(self) -> None:
        """Stop delivering: cancel the task, pending retries and attempts in flight."""
        self.emu.enqueue = None
        for timer in self.timers:
            timer.cancel()
        tasks = [t for t in (self.runner, *self.inflight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session is not None:
            await self.session.close()

    def enqueue(self, event: Obj, endpoints: list[Obj], resend: bool) -> None:
        """Queue a first attempt of ``event`` to each endpoint (never blocks)."""
        for endpoint in endpoints:
            self.queue.put_nowait(Job(event["id"], endpoint["id"], 1, resend))

    async def _run(self) -> None:
        while True:
            job = await self.queue.get()
            if self.config.shuffle_deliveries:
                await asyncio.sleep(self.config.shuffle_window)
                batch = [job]
                while not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                for item in _shuffled(batch):
                    await self._attempt(item)
            else:
                await self.semaphore.acquire()
                task = asyncio.create_task(self._attempt(job))
                self.inflight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self.semaphore.release()

    async def _attempt(self, job: Job) -> None:
        state = self.emu.state
        event = state.events.get(job.event_id)
        endpoint = state.webhook_endpoints.get(job.endpoint_id)
        if event is None or endpoint is None or endpoint["status"] != "enabled":
            return  # the endpoint was deleted or disabled meanwhile
        payload = json.dumps(event, indent=2)
        signed_at = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, endpoint["secret"], signed_at),
        }
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        assert self.session is not None
        try:
            async with self.session.post(
                endpoint["url"], data=payload.encode("utf-8"), headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.delivery_timeout),
            ) as resp:
                status = resp.status
                await resp.content.read(64 * 1024)
        except TimeoutError:
            error = f"timed out after {self.config.delivery_timeout:g} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        succeeded = status is not None and 200 <= status < 300
        if status is not None and not succeeded:
            error = f"HTTP {status}"
        self._record(job, endpoint, event, status, succeeded, error, signed_at,
                     time.monotonic() - started)
        if not succeeded and job.attempt < self.config.max_attempts:
            delay = self.config.retry_delay * 2 ** (job.attempt - 1)
            self._later(delay, replace(job, attempt=job.attempt + 1))

    def _later(self, delay: float, job: Job) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.timers.discard(handle)
            self.queue.put_nowait(job)

        handle = loop.call_later(delay, fire)
        self.timers.add(handle)

    def _record(self, job: Job, endpoint: Obj, event: Obj, status: int | None,
                succeeded: bool, error: str | None, signed_at: int, seconds: float) -> None:
        state = self.emu.state
        state.deliveries.append({
            "id": new_id("wd_"),
            "account": self.emu.owner(event["id"]),
            "event_id": event["id"],
            "event_type": event["type"],
            "endpoint_id": endpoint["id"],
            "url": endpoint["url"],
            "attempt": job.attempt,
            "resend": job.resend,
            "status": status,
            "succeeded": succeeded,
            "error": error,
            "created": self.emu.now(),
            "signed_at": signed_at,
            "duration_ms": round(seconds * 1000, 1),
        })
        if succeeded and not job.resend:
            pending = state.pending.get(event["id"], [])
            if endpoint["id"] in pending:
                pending.remove(endpoint["id"])
                event["pending_webhooks"] = len(pending)
        log.info("delivery %s -> %s attempt %d: %s", event["id"], endpoint["id"],
                 job.attempt, "ok" if succeeded else error)
        self.emu.dirty = True


def _shuffled(batch: list[Job]) -> list[Job]:
    """``batch`` in a random order that differs from the original when it can."""
    if len(batch) < 2:
        return batch
    order = batch[:]
    random.shuffle(order)
    if order == batch:
        order = batch[1:] + batch[:1]
    return order
