"""stripefleet: run Stripe across a fleet of shop sites.

Parts (README, section 'Layout'; docs/architecture.md): ``site`` (the template site),
``propagation`` (the engine that pushes settings to many sites), ``dashboard`` (fleet
registry and rollouts), ``stripe_emulator`` (a local Stripe) and ``cli`` (the
``stripefleet`` command).
"""

__version__ = "0.1.0"
