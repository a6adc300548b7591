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
from newsletter.assemble.markdown import render_prose
from newsletter.assemble.preview import preview_variant

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
    "preview_variant",
    "render_prose",
]
