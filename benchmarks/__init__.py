"""Benchmarks of vireid (run as scripts; importable so tests can reuse the baselines)."""
