"""The pure core: domain types, derived metrics, classification, zones, planning, exercises and
the week model. No I/O, no clock: everything comes in as arguments (tests/test_architecture.py)."""
