"""API key authentication, as Stripe does it (https://docs.stripe.com/api/authentication).

The key comes as ``Authorization: Bearer <key>`` (what the SDK sends) or as HTTP basic
auth with the key as user name and no password (``curl -u sk_test_...:``). Errors:

- no key: 401 ``invalid_request_error`` ("You did not provide an API key...");
- an unknown key: 401 ``invalid_request_error`` with no ``code``, as Stripe answers it
  ("Invalid API Key provided: sk_test_...": Stripe's list of error codes,
  https://docs.stripe.com/error-codes, has none for it), the key masked in the message;
- an expired secret key: 401 ``invalid_request_error``, code ``api_key_expired``
  (https://docs.stripe.com/error-codes/api-key-expired);
- a publishable key on a secret endpoint: 403, code ``secret_key_required``, with
  Stripe's message ("This API call cannot be made with a publishable API key...");
  the SDK raises ``stripe.PermissionError``.

Every 401 makes the SDK raise ``stripe.AuthenticationError``. A key never appears in
clear in a message (``common.keys.mask``).
"""

from __future__ import annotations

import base64
import binascii

from stripefleet.common.keys import mask
from stripefleet.stripe_emulator.errors import StripeError
from stripefleet.stripe_emulator.keystore import KeyPair, KeyStore

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). The emulator "
    "writes its keys to its keys file."
)


def key_from_header(header: str | None) -> str | None:
    """The API key in an ``Authorization`` header (Bearer or basic), or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authenticate(keys: KeyStore, header: str | None) -> KeyPair:
    """The key pair of the secret key in ``header``.

    Raises:
        StripeError: 401 (no key, unknown key, expired key) or 403 (a publishable key).
    """
    key = key_from_header(header)
    if key is None:
        raise StripeError(_NO_KEY, status=401)
    found = keys.find(key)
    if found is None:
        raise StripeError(f"Invalid API Key provided: {mask(key)}", status=401)
    pair, kind = found
    if kind == "publishable":
        raise StripeError(
            "This API call cannot be made with a publishable API key. Please use a secret "
            "API key. You can find a list of your API keys in the emulator's keys file.",
            status=403, code="secret_key_required")
    if pair.expired:
        raise StripeError(f"Expired API Key provided: {mask(key)}", status=401,
                          code="api_key_expired")
    keys.use(pair)
    return pair
