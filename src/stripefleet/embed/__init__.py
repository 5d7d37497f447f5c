"""What another Flask app embeds: the propagation blueprint (:mod:`.stripe_propagate`).

It imports nothing of the dashboard: only ``stripefleet.propagation``'s public API and
``stripefleet.common`` (README, "The embeddable propagation blueprint in another Flask
app").
"""
