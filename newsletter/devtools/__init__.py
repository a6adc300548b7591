"""Tools for development, tests and benchmarks (never used in production paths)."""

__all__: list[str] = []  # run as ``python -m newsletter.devtools.sendgrid_standin``
