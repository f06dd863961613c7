"""Benchmarks (`make bench` → bench/results.json). Reported figures, not tests."""
