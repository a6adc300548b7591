"""Assembly: a month's theme rendered once per agency, links registered, checked, approved."""

from newsletter.assemble.build import (
    ApprovalRefused,
    BuildError,
    BuildResult,
    approve_bulletin,
    build_bulletin,
)
from newsletter.assemble.checks import CheckResult
from newsletter.assemble.linkcheck import LinkStatus, bulletin_targets, check_targets

__all__ = [
    "ApprovalRefused",
    "BuildError",
    "BuildResult",
    "CheckResult",
    "LinkStatus",
    "approve_bulletin",
    "build_bulletin",
    "bulletin_targets",
    "check_targets",
]
