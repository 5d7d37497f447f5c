"""The dashboard's rollouts domain."""
