"""Benchmarks (``make bench`` = ``python -m bench``): speed and memory measured against a
baseline run side by side, never asserted in the test suite (README, section
'Benchmarks')."""
