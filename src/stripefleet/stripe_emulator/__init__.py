"""A local, stateful Stripe: the API subset the sites use, a hosted pay page, signed webhooks.

Run it with ``stripefleet stripe-emulator``; drive it with the official ``stripe`` SDK
(``StripeClient(sk, base_addresses={"api": url})``) and, in tests and the demo, with
:class:`EmulatorClient` (the control API). Importing this package starts nothing.
"""

from stripefleet.stripe_emulator.client import EmulatorClient, EmulatorError
from stripefleet.stripe_emulator.config import API_VERSION, EmulatorConfig

__all__ = ["API_VERSION", "EmulatorClient", "EmulatorConfig", "EmulatorError"]
