"""The demo's purchase (``--once``): a customer buys site 1's unique artwork through the
API, pays on the emulator, and the signed webhook marks the order paid and the artwork
sold (README, "The demo": ``--once``)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from stripefleet.demo.fleet import random_token
from stripefleet.demo.http import call
from stripefleet.stripe_emulator.client import EmulatorClient

#: The unique artwork of the bundled sample catalogue (``site products import --sample``).
ARTWORK = "les-nympheas"
CUSTOMER_INFO = {
    "firstName": "Claude", "lastName": "Demo", "email": "", "phone": "0123456789",
    "address": "84 rue Claude Monet", "city": "Giverny", "postalCode": "27620",
    "country": "France",
}


def buy_artwork(console: Console, site_url: str, emulator_url: str, *,
                timeout: float = 30.0) -> bool:
    """Register a customer, check out the artwork, pay with 4242..., wait for the webhook.

    Returns:
        True when the order became ``paid`` and the artwork shows as sold (``inStock``
        false) within ``timeout`` seconds.
    """
    email = f"client-{random_token(8).lower()}@demo.local"
    token = call("POST", f"{site_url}/api/auth/register",
                 {"email": email, "password": random_token(20)})["token"]
    auth = {"Authorization": f"Bearer {token}"}
    checkout = call("POST", f"{site_url}/api/checkout/", {
        "items": [{"id": ARTWORK, "type": "product", "quantity": 1, "days": 1}],
        "customer_info": {**CUSTOMER_INFO, "email": email},
        "success_url": f"{site_url}/commande/succes?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{site_url}/panier",
    }, headers=auth)
    session_id = checkout["session_id"]
    console.print(f"  checkout: order {checkout['order_id']}, Checkout Session {session_id}")
    EmulatorClient(emulator_url).pay(session_id, "4242424242424242")
    console.print("  paid on the emulator with 4242 4242 4242 4242")
    order = _wait_for(lambda: call("GET", f"{site_url}/api/orders/session/{session_id}/",
                                   headers=auth), "paid", timeout)
    console.print(f"  webhook received: order status {order.get('status')}")
    product = call("GET", f"{site_url}/api/products/{ARTWORK}")["product"]
    sold = product.get("inStock") is False
    console.print(f"  {product.get('name', ARTWORK)}: "
                  f"{'Vendu (sold)' if sold else 'still in stock'}")
    return order.get("status") == "paid" and sold


def _wait_for(read: Any, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = read()
        order = answer.get("order", answer)
        if order.get("status") == status or time.monotonic() > deadline:
            return dict(order)
        time.sleep(0.2)
