"""The dashboard's sites domain."""
