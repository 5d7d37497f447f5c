"""The dashboard: the fleet registry, rollouts as Huey background jobs with live
progress, history, rollback, audit, roles, a JSON API and the admin web UI (issue 5,
DESIGN.md section 6). ``create_app`` is in :mod:`stripefleet.dashboard.app`."""
