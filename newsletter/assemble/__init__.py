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
from newsletter.assemble.review import (
    ReviewRefused,
    approval_out_of_date,
    ask_for_approval,
    built_from,
    may_approve,
    reject_bulletin,
    reviews,
)

__all__ = [
    "ApprovalRefused",
    "BuildError",
    "BuildResult",
    "CheckResult",
    "LinkStatus",
    "ReviewRefused",
    "approval_out_of_date",
    "approve_bulletin",
    "ask_for_approval",
    "build_bulletin",
    "built_from",
    "bulletin_targets",
    "check_targets",
    "may_approve",
    "preview_variant",
    "reject_bulletin",
    "render_prose",
    "reviews",
]
