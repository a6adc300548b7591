"""Assembly: a month's theme rendered once per agency, links registered, checked, approved."""

from newsletter.assemble.build import (
    ApprovalRefused,
    BuildError,
    BuildResult,
    approve_bulletin,
    build_bulletin,
)
from newsletter.assemble.checks import CheckResult

__all__ = [
    "ApprovalRefused",
    "BuildError",
    "BuildResult",
    "CheckResult",
    "approve_bulletin",
    "build_bulletin",
]
