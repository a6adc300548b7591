"""The scheduler on its own (production): ``python scheduler.py``."""
