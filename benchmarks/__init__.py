"""Measurement scripts: each prints its figures; none runs in the test suite's timing."""
