"""Tools for development, tests and benchmarks (never used in production paths)."""
