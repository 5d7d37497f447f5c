"""Tests of stripefleet.dashboard."""
