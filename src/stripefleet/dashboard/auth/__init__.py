"""The dashboard's auth domain."""
