"""The control API's clock: expiry without waiting (``control.py``, ``clock.py``)."""

from __future__ import annotations

import pytest
import stripe

from stripefleet.stripe_emulator import EmulatorError
from tests.stripe_emulator.conftest import RunningEmulator, session_params


def test_advancing_past_expires_at_expires_the_session(
        client: stripe.StripeClient, emulator: RunningEmulator) -> None:
    """A session whose ``expires_at`` has passed on the clock is ``expired``, with its event."""
    now = emulator.control.clock()["now"]
    session = client.v1.checkout.sessions.create(
        params=session_params(expires_at=now + 3600))
    emulator.control.advance_clock(1800)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    result = emulator.control.advance_clock(1801)
    assert result["expired_sessions"] >= 1
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    events = client.v1.events.list(params={"type": "checkout.session.expired", "limit": 100})
    assert session.id in [e.data.object.id for e in events.data]


def test_new_objects_use_the_advanced_clock(client: stripe.StripeClient,
                                            emulator: RunningEmulator) -> None:
    """``created`` follows the emulator's clock after an advance."""
    before = emulator.control.clock()["now"]
    emulator.control.advance_clock(7 * 24 * 3600)
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.created >= before + 7 * 24 * 3600


def test_clock_cannot_go_back(emulator: RunningEmulator) -> None:
    """A negative advance is refused with 400 and the clock does not move."""
    offset = emulator.control.clock()["offset"]
    with pytest.raises(EmulatorError) as info:
        emulator.control.advance_clock(-10)
    assert info.value.status == 400
    assert emulator.control.clock()["offset"] == offset
