"""The test suite: `python -m pytest` runs it all; `-m "not slow"` is the everyday loop."""
