"""Harness, report, findings and benchmark suites; imports no deep-learning framework."""
