"""Pieces shared by every part: setting names and key formats, fingerprints and masks,
encryption at rest, and child-process management. Nothing here imports Flask."""
