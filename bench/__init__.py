"""Benchmarks (`make bench`): measurements printed as a table, never pass/fail tests."""
