"""The dashboard's history domain."""
