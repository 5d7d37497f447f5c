"""The dashboard's audit domain."""
