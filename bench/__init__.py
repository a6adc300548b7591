"""Benchmarks. ``make bench`` (``python -m bench``) runs them all; each prints ratios against a
baseline measured in the same run, because the machine is shared and noisy."""
