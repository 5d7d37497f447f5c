"""The dashboard: the fleet registry, rollouts as Huey background jobs with live
progress, history, rollback, audit, roles, a JSON API and the admin web UI (README, "The
dashboard"; its floors in ``docs/architecture.md``). ``create_app`` is in
:mod:`stripefleet.dashboard.app`."""
