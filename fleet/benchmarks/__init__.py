"""Benchmarks behind ``fleet bench``: they print figures, they never pass or fail."""
