"""The hosted pay page, ``/pay/{session_id}``: what a Checkout Session's ``url`` opens.

A real HTML page (no script, no external asset): the line items, the total, a card
number field, Pay and Cancel. Pay runs :func:`payments.pay`: success redirects (303)
to ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced (the page names the
session's account); a decline or a wrong number
shows Stripe's message on the page (402); Cancel redirects to ``cancel_url``. An
expired or completed session shows so and offers no form.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from stripefleet.stripe_emulator import checkout, payments
from stripefleet.stripe_emulator.errors import StripeError
from stripefleet.stripe_emulator.keystore import DEFAULT_ACCOUNT_NAME
from stripefleet.stripe_emulator.runtime import Emulator
from stripefleet.stripe_emulator.webio import emulator_of

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}


def money(amount: int, currency: str) -> str:
    """``1234, "eur"`` -> ``€12.34``; zero-decimal currencies as whole units."""
    value = str(amount) if currency in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def _render(emu: Emulator, session_id: str, *, error: str | None = None,
            card: str = "", status: int = 200) -> web.Response:
    session = emu.state.checkout_sessions.get(session_id)
    if session is None:
        html = _ENV.get_template("pay.html").render(
            session=None, items=[], total="", error=None, card="",
            account=DEFAULT_ACCOUNT_NAME, money=money)
        return web.Response(text=html, status=404, content_type="text/html")
    items = emu.state.line_items.get(session_id, [])
    owner = emu.keys.account(emu.owner(session_id))
    html = _ENV.get_template("pay.html").render(
        session=session, items=items, total=money(session["amount_total"],
                                                  session["currency"]),
        error=error, card=card, account=owner.name if owner else DEFAULT_ACCOUNT_NAME,
        money=money)
    return web.Response(text=html, status=status, content_type="text/html")


async def show(request: web.Request) -> web.Response:
    """``GET /pay/{id}``: the page (404 page for an unknown session)."""
    emu = emulator_of(request)
    checkout.expire_due(emu)
    return _render(emu, request.match_info["id"])


async def submit(request: web.Request) -> web.StreamResponse:
    """``POST /pay/{id}`` with ``card``: pay, then redirect or show the error."""
    emu = emulator_of(request)
    session_id = request.match_info["id"]
    form = await request.post()
    card = str(form.get("card", ""))
    try:
        result = payments.pay(emu, session_id, card)
    except StripeError as exc:
        status = 404 if exc.status == 404 else (402 if exc.status == 402 else 400)
        return _render(emu, session_id, error=exc.message, card=card, status=status)
    if result.redirect_url:
        raise web.HTTPSeeOther(result.redirect_url)
    return _render(emu, session_id)


async def cancel(request: web.Request) -> web.StreamResponse:
    """``POST /pay/{id}/cancel``: back to ``cancel_url`` (the session stays open)."""
    emu = emulator_of(request)
    session = emu.state.checkout_sessions.get(request.match_info["id"])
    if session is not None and session.get("cancel_url"):
        raise web.HTTPSeeOther(session["cancel_url"])
    return _render(emu, request.match_info["id"])


def add_routes(app: web.Application) -> None:
    """Register the pay page on ``app``."""
    app.router.add_get("/pay/{id}", show)
    app.router.add_post("/pay/{id}", submit)
    app.router.add_post("/pay/{id}/cancel", cancel)

