"""Dispatch: the send ledger, batching and retries. See :mod:`.send` for the order of things."""

from newsletter.dispatch.deliver import RetryPolicy
from newsletter.dispatch.preview import DryRun, DryRunRow, TestCopy, dry_run, send_test_copies
from newsletter.dispatch.runs import (
    SendProgress,
    ThisProcess,
    latest_run,
    send_progress,
    this_process,
)
from newsletter.dispatch.send import send_bulletin, stop_send
from newsletter.dispatch.shutdown import request_shutdown, shutdown_requested
from newsletter.dispatch.summary import (
    AgencyCounts,
    DispatchError,
    Progress,
    SendInProgress,
    SendSummary,
)

__all__ = [
    "AgencyCounts",
    "DispatchError",
    "DryRun",
    "DryRunRow",
    "Progress",
    "RetryPolicy",
    "SendInProgress",
    "SendProgress",
    "SendSummary",
    "TestCopy",
    "ThisProcess",
    "dry_run",
    "latest_run",
    "request_shutdown",
    "send_bulletin",
    "send_progress",
    "send_test_copies",
    "shutdown_requested",
    "stop_send",
    "this_process",
]
