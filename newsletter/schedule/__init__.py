"""Scheduling: send slots (:mod:`.slots`) and the ticking scheduler."""
