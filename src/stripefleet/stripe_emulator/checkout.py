"""Checkout Sessions: create, retrieve, list, expire, line items; expiry on the clock.

Shapes follow https://docs.stripe.com/api/checkout/sessions/object (every field of the
API version the emulator announces; ``line_items`` only when expanded, as Stripe's
includable field); a session belongs to the account and mode of the key that created
it and is seen only by that account's keys of that mode. Only ``mode=payment``
with ``line_items[*][price_data]`` is served (what the sites send: README, section
'Selling', "Checkout").
``expires_at`` is accepted between 30 minutes and 24 hours after creation, default 24 h
(https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from stripefleet.stripe_emulator.errors import StripeError, invalid_param, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.lists import (
    PAGINATION_PARAMS,
    expand,
    expand_paths,
    list_object,
    paginate,
)
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj

MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 60 * 60
MAX_AMOUNT = 99_999_999  # Stripe's largest amount: 8 digits in the smallest unit

#: Parameters of Stripe's create call that the emulator accepts without acting on them.
_IGNORED = {
    "payment_method_types", "billing_address_collection", "submit_type", "customer",
    "customer_creation", "phone_number_collection", "shipping_address_collection",
    "allow_promotion_codes", "automatic_tax", "consent_collection", "custom_text",
    "payment_method_options", "invoice_creation", "tax_id_collection", "custom_fields",
    "discounts", "shipping_options", "after_expiration", "currency",
    "payment_method_collection", "saved_payment_method_options", "ui_mode", "locale",
    "expand",
}
_CREATE = {"mode", "line_items", "success_url", "cancel_url", "customer_email",
           "client_reference_id", "metadata", "expires_at", "payment_intent_data"} | _IGNORED
_URL = re.compile(r"^https?://[^\s/]+\S*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_session(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/checkout/sessions``: a new open, unpaid Checkout Session.

    Raises:
        StripeError: 400 with Stripe's code and param for a missing or invalid parameter.
    """
    p = req.params
    p.allow(_CREATE)
    mode = p.string("mode", required=True)
    if mode != "payment":
        raise invalid_param("mode", f"Invalid mode: {mode!r}. The emulator serves mode=payment "
                            "only.")
    now = emu.now()
    raw_items = p.array("line_items")
    if not raw_items:
        raise StripeError("You must provide at least one line item: line_items.",
                          code="parameter_missing", param="line_items")
    if len(raw_items) > 100:
        raise invalid_param("line_items", "A Checkout Session can have at most 100 line items.")
    items = [_line_item(Params(item, f"line_items[{i}]"), now, req.livemode)
             for i, item in enumerate(raw_items)]
    currencies = {item["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid_param("line_items", "All line items must have the same currency.")
    urls = {name: _url(p, name) for name in ("success_url", "cancel_url")}
    email = p.string("customer_email", max_length=800)
    if email is not None and not _EMAIL.match(email):
        raise StripeError(f"Invalid email address: {email}", code="email_invalid",
                          param="customer_email")
    expires_at = p.integer("expires_at")
    if expires_at is None:
        expires_at = now + MAX_EXPIRY
    elif expires_at < now + MIN_EXPIRY:
        raise invalid_param("expires_at", "The `expires_at` timestamp must be at least 30 "
                            "minutes from Checkout Session creation.")
    elif expires_at > now + MAX_EXPIRY:
        raise invalid_param("expires_at", "The `expires_at` timestamp must be less than 24 "
                            "hours from Checkout Session creation.")
    pi_data = p.sub("payment_intent_data")
    pi_fields: dict[str, Any] = {}
    if pi_data is not None:
        pi_data.allow({"metadata", "description", "receipt_email", "statement_descriptor",
                       "statement_descriptor_suffix", "capture_method", "setup_future_usage"})
        pi_fields = {"metadata": pi_data.metadata() or {},
                     "description": pi_data.string("description"),
                     "receipt_email": pi_data.string("receipt_email")}
    subtotal = sum(item["amount_subtotal"] for item in items)
    session_id = new_id("cs_test_" if not req.livemode else "cs_live_", 58)
    session: Obj = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": p.boolean("allow_promotion_codes"),
        "allowed_payment_method_types": None,
        "amount_subtotal": subtotal,
        "amount_total": subtotal,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "branding_settings": None,
        "cancel_url": urls["cancel_url"],
        "client_reference_id": p.string("client_reference_id", max_length=200),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": items[0]["currency"],
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": email,
        "discounts": [],
        "excluded_payment_method_types": None,
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": req.livemode,
        "locale": None,
        "managed_payments": None,
        "metadata": p.metadata() or {},
        "mode": "payment",
        "name_collection": None,
        "optional_items": None,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "presentment_details": None,
        "recovered_from": None,
        "redirect_on_completion": None,
        "return_url": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": urls["success_url"],
        "tax_id_collection": {"enabled": False, "required": "never"},
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": emu.pay_url(req.base_url, session_id),
        "wallet_options": None,
    }
    emu.state.checkout_sessions[session_id] = session
    emu.own(session, req.account)
    emu.state.line_items[session_id] = items
    emu.state.session_pi_data[session_id] = pi_fields
    emu.dirty = True
    return render_session(emu, session, req.params)


def _line_item(p: Params, now: int, livemode: bool) -> Obj:
    p.allow({"price_data", "quantity", "price", "adjustable_quantity", "tax_rates",
             "dynamic_tax_rates"})
    if p.has("price"):
        price_id = p.string("price") or ""
        raise resource_missing("price", price_id, p.name("price"))
    price_data = p.sub("price_data")
    if price_data is None:
        raise StripeError(f"You must specify either `price` or `price_data` for {p.prefix}.",
                          code="parameter_missing", param=p.name("price_data"))
    price_data.allow({"currency", "unit_amount", "unit_amount_decimal", "product_data",
                      "product", "tax_behavior", "recurring"})
    currency = (price_data.string("currency", required=True) or "").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise invalid_param(price_data.name("currency"), f"Invalid currency: {currency}.")
    unit_amount = price_data.integer("unit_amount", required=True, minimum=0, maximum=MAX_AMOUNT)
    product = price_data.sub("product_data", required=True)
    assert product is not None and unit_amount is not None
    product.allow({"name", "description", "images", "metadata", "tax_code",
                   "unit_label"})
    name = product.string("name", required=True, max_length=250) or ""
    quantity = p.integer("quantity", required=True, minimum=1, maximum=999_999) or 1
    amount = unit_amount * quantity
    if amount > MAX_AMOUNT:
        raise invalid_param(p.name("quantity"), "The line item's total is above the largest "
                            "amount Stripe accepts (99999999 in the smallest currency unit).")
    return {
        "id": new_id("li_"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": currency,
        "description": name,
        "metadata": {},
        "price": {
            "id": new_id("price_"), "object": "price", "active": False,
            "billing_scheme": "per_unit", "created": now, "currency": currency,
            "custom_unit_amount": None, "livemode": livemode, "lookup_key": None,
            "metadata": {}, "nickname": None,
            "product": {"id": new_id("prod_", 14), "name": name,
                        "description": product.string("description")},
            "recurring": None, "tax_behavior": "unspecified", "tiers_mode": None,
            "transform_quantity": None, "type": "one_time", "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
    }


def _url(p: Params, name: str) -> str | None:
    value = p.string(name, max_length=5000)
    if value is not None and not _URL.match(value):
        raise StripeError(f"Not a valid URL: {name}", code="url_invalid", param=name)
    return value


def _item_view(item: Obj) -> Obj:
    out = copy.deepcopy(item)
    out["price"]["product"] = out["price"]["product"]["id"]
    return out


def render_session(emu: Emulator, session: Obj, params: Params | None = None) -> Obj:
    """The session as the API shows it, with ``expand[]`` applied."""
    paths = expand_paths(params) if params is not None else []
    if not paths:
        return copy.deepcopy(session)
    sid = session["id"]
    url = f"/v1/checkout/sessions/{sid}/line_items"
    resolvers = {
        "payment_intent": lambda v: copy.deepcopy(emu.state.payment_intents.get(v)) if v else v,
        "line_items": lambda _v: list_object(
            [_item_view(i) for i in emu.state.line_items.get(sid, [])], url),
    }
    return expand(copy.deepcopy(session), paths, resolvers)


def get_session(emu: Emulator, session_id: str, req: ApiRequest | None = None) -> Obj:
    """The stored session (after an expiry check).

    Args:
        emu: the emulator.
        session_id: ``cs_...``.
        req: the API request asking for it (its key must see the session), or None
            (the pay page and the control API see every session).

    Raises:
        StripeError: 404 ``resource_missing`` (also for another account's session).
    """
    if req is not None:
        session = emu.lookup(emu.state.checkout_sessions, session_id, req,
                             "checkout.session")
    else:
        found = emu.state.checkout_sessions.get(session_id)
        if found is None:
            raise resource_missing("checkout.session", session_id)
        session = found
    expire_due(emu)
    return session


def retrieve_session(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/checkout/sessions/{id}``."""
    req.params.allow({"expand"})
    return render_session(emu, get_session(emu, req.match["id"], req), req.params)


def list_sessions(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/checkout/sessions``: newest first, filtered by ``status``/``payment_intent``."""
    p = req.params
    p.allow({*PAGINATION_PARAMS, "status", "payment_intent", "created", "customer"})
    status = p.string("status", choices=("open", "complete", "expired"))
    pi = p.string("payment_intent")
    sessions = [s for s in emu.state.checkout_sessions.values()
                if emu.visible(s, req)
                and (status is None or s["status"] == status)
                and (pi is None or s["payment_intent"] == pi)]
    return paginate(sessions, p, "/v1/checkout/sessions", "checkout.session",
                    lambda s: render_session(emu, s, p))


def list_line_items(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/checkout/sessions/{id}/line_items``: in the order they were given."""
    req.params.allow(PAGINATION_PARAMS)
    sid = req.match["id"]
    get_session(emu, sid, req)
    return paginate(emu.state.line_items.get(sid, []), req.params,
                    f"/v1/checkout/sessions/{sid}/line_items", "item", _item_view,
                    newest_first=False)


def expire_session_api(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/checkout/sessions/{id}/expire``.

    Raises:
        StripeError: 400 when the session is not open (Stripe: "Only Checkout Sessions
            with a status in ["open"] can be expired").
    """
    req.params.allow({"expand"})
    session = get_session(emu, req.match["id"], req)
    if session["status"] != "open":
        raise StripeError(
            f"Only Checkout Sessions with a status in [\"open\"] can be expired. This "
            f"Checkout Session has a status of \"{session['status']}\".")
    expire(emu, session, req)
    return render_session(emu, session, req.params)


def expire(emu: Emulator, session: Obj, req: ApiRequest | None = None) -> None:
    """Move an open session to ``expired`` and emit ``checkout.session.expired``.

    A PaymentIntent left by a declined attempt is canceled (``payment_intent.canceled``).
    """
    session["status"] = "expired"
    pi = emu.state.payment_intents.get(session["payment_intent"] or "")
    if pi is not None and pi["status"] != "succeeded":
        pi.update(status="canceled", canceled_at=emu.now(), cancellation_reason="automatic")
        emu.emit("payment_intent.canceled", pi, req)
    emu.emit("checkout.session.expired", session, req)
    emu.dirty = True


def expire_due(emu: Emulator) -> int:
    """Expire every open session whose ``expires_at`` has passed on the emulator clock.

    Returns:
        How many sessions expired.
    """
    now = emu.now()
    due = [s for s in emu.state.checkout_sessions.values()
           if s["status"] == "open" and s["expires_at"] <= now]
    for session in due:
        expire(emu, session)
    return len(due)
