"""The demo's Stripe: one ``stripefleet stripe-emulator`` process, its test-mode keys,
and a webhook endpoint per site (each with its own webhook signing secret)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import stripe

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.stripe_emulator.client import EmulatorClient

SiteEvent = Literal[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
]

#: The events a site handles (README, "Selling": webhooks).
SITE_EVENTS: tuple[SiteEvent, ...] = get_args(SiteEvent)


@dataclass
class DemoStripe:
    """The running emulator: its URL, its test-mode key pair, its process."""

    url: str
    publishable_key: str
    secret_key: str
    process: ManagedProcess

    def client(self) -> stripe.StripeClient:
        """The official SDK pointed at the emulator with its secret key."""
        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.url})

    def control(self) -> EmulatorClient:
        """The emulator's control API (new keys, expiring one)."""
        return EmulatorClient(self.url)


def start_emulator(workdir: Path, *, timeout: float = 30.0) -> DemoStripe:
    """Start the emulator on a free loopback port; its keys file goes in ``workdir``.

    Webhook retries are compressed (0.5 s, doubling) so that the demo's purchase shows
    its effect at once. The caller stops ``process``.

    Raises:
        ProcessFailed: it exited or did not answer ``/_emulator/health`` in time.
    """
    port = free_port()
    keys_file = workdir / "stripe-emulator-keys.json"
    proc = ManagedProcess(
        stripefleet_argv("stripe-emulator", "--host", "127.0.0.1", "--port", str(port),
                         "--keys-file", str(keys_file), "--retry-delay", "0.5"),
        log_path=workdir / "stripe-emulator.log",
    )
    url = f"http://127.0.0.1:{port}"
    proc.start()
    try:
        proc.wait_http(f"{url}/_emulator/health", timeout=timeout)
        pair = json.loads(keys_file.read_text(encoding="utf-8"))["keys"][0]
    except BaseException:
        proc.stop()
        raise
    return DemoStripe(url, pair["publishable_key"], pair["secret_key"], proc)


def register_webhook_endpoints(emulator: DemoStripe, site_urls: list[str]) -> list[str]:
    """Create one webhook endpoint per site (the site's ``/api/webhook/stripe/``).

    Returns:
        Each site's webhook signing secret (``whsec_...``), in the order of ``site_urls``.
    """
    client = emulator.client()
    secrets = []
    for url in site_urls:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": f"{url}/api/webhook/stripe/", "enabled_events": [*SITE_EVENTS]})
        assert endpoint.secret is not None
        secrets.append(endpoint.secret)
    return secrets
