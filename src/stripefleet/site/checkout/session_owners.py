"""Checkout Sessions of the site that are not orders, and who handles their events.

The SaaS launch requests (README, "Selling": ``POST /saas_launch_site``) open Checkout
Sessions of their own. Their handler is registered on the app with
:func:`register_session_owner` (by ``webhooks.init_app``, the floor above both); the
webhooks' handlers ask :func:`owner_of` for each ``checkout.session.*`` event and hand
the event to that owner instead of the orders' handlers, so that they know no owner by
name, and checkout (below launch) knows none either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

#: ``(status, note, order_id)`` of a handled event, as the webhooks' handlers return it.
Outcome = tuple[str, str, int | None]

_EXTENSION = "stripefleet.checkout_session_owners"


@dataclass(frozen=True)
class SessionOwner:
    """Who opened some of the site's Checkout Sessions.

    Attributes:
        name: a stable name (``launch``); registering a name again replaces it.
        owns: whether a Checkout Session id is one of its sessions.
        handle: applies a ``checkout.session.*`` event (its type, its ``data.object``)
            to what the session paid for; flushes.
    """

    name: str
    owns: Callable[[str], bool]
    handle: Callable[[str, dict[str, Any]], Outcome]


def register_session_owner(app: Flask, name: str, owns: Callable[[str], bool],
                           handle: Callable[[str, dict[str, Any]], Outcome]) -> None:
    """Register (or replace) an owner of Checkout Sessions on ``app``."""
    owners: dict[str, SessionOwner] = app.extensions.setdefault(_EXTENSION, {})
    owners[name] = SessionOwner(name, owns, handle)


def owner_of(session_id: str) -> SessionOwner | None:
    """The registered owner of a Checkout Session, or None (an order's, or unknown)."""
    if not session_id:
        return None
    owners: dict[str, SessionOwner] = current_app.extensions.get(_EXTENSION, {})
    for owner in owners.values():
        if owner.owns(session_id):
            return owner
    return None
