"""Fixtures of the rollout tests: a Redis database of the test's own, and a Stripe
emulator for the preflight (``STRIPE_API_BASE``) with keys made through its control API.

The suite's ``redis_url`` (``tests/conftest.py``) is database 15, flushed before and
after each test. Two test runs at once on one machine (two checkouts, two CI jobs) then
share it: each flushes the other's Huey queue (queued chunks are lost, and a rollout
waits for the every-minute resumer) and its rollouts' slots, the workers of one run
take the other run's ``run_chunk`` tasks and run them against their own database, and
both runs' rollout ids (1, 2... in each fresh PostgreSQL schema) name the same slot keys
(``stripefleet:rollout:1:slots``). Here each test claims a database no other test uses
at the same time, among 1-14, with an expiring ``SET NX`` in database 0.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests

from tests.conftest import REDIS_TEST_URL, _port_open, need
from tests.site.shop.harness import Emulator, start_emulator

#: The databases handed out (0 holds the claims; 15 is the suite's shared one).
DATABASES = range(1, 15)
#: Seconds a claim lasts at most (a run killed on the way leaves it behind that long).
CLAIM_SECONDS = 900


def _claim(client: redis.Redis, token: str) -> int:
    """A database number nobody holds, claimed for ``token``; waits up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        for number in DATABASES:
            if client.set(f"stripefleet-tests:redis-db:{number}", token, nx=True,
                          ex=CLAIM_SECONDS):
                return number
        if time.monotonic() > deadline:
            raise AssertionError(f"every Redis test database {DATABASES} is in use")
        time.sleep(0.5)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL on a database claimed for this test, flushed before and after it."""
    if not _port_open("127.0.0.1", 6379):
        need("Redis", "nothing listens on 127.0.0.1:6379")
    parts = urlsplit(REDIS_TEST_URL)
    claims = redis.Redis.from_url(urlunsplit(parts._replace(path="/0")))
    token = uuid.uuid4().hex
    number = _claim(claims, token)
    url = urlunsplit(parts._replace(path=f"/{number}"))
    own = redis.Redis.from_url(url)
    own.flushdb()
    try:
        yield url
    finally:
        own.flushdb()
        own.close()
        key = f"stripefleet-tests:redis-db:{number}"
        if claims.get(key) == token.encode():
            claims.delete(key)
        claims.close()


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A Stripe emulator shared by the rollout tests (the preflight's ``GET /v1/account``);
    each test makes its own keys (:func:`new_keys`)."""
    emu = start_emulator(tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.process.stop()


@dataclass
class Keys:
    """A key pair of the emulator and its account."""

    secret_key: str
    publishable_key: str
    account: str
    livemode: bool


def new_keys(emulator: Emulator, **params: str) -> Keys:
    """A new key pair (``POST /_emulator/keys``: ``account=new``, ``account=acct_...``,
    ``mode=live``)."""
    r = requests.post(f"{emulator.url}/_emulator/keys", data=params, timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return Keys(body["secret_key"], body["publishable_key"], body["account"],
                bool(body["livemode"]))


def expire_key(emulator: Emulator, secret_key: str) -> None:
    """Make ``secret_key`` answer 401 ``api_key_expired`` from now on."""
    r = requests.post(f"{emulator.url}/_emulator/keys/expire", data={"secret_key": secret_key},
                      timeout=10)
    assert r.status_code == 200, r.text
