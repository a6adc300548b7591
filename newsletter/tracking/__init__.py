"""Tracking: opens, clicks (to courses), feedback, machine activity and SendGrid's events.

* :mod:`~newsletter.tracking.tracker`: tokens and links to readers and targets, hits to records;
* :mod:`~newsletter.tracking.registry`: cached link and delivery lookups for the hot path;
* :mod:`~newsletter.tracking.recorder`: group commit of web events;
* :mod:`~newsletter.tracking.rules`: the versioned machine-activity rules;
* :mod:`~newsletter.tracking.provider_events`: the signed SendGrid Event Webhook.
"""

from newsletter.tracking.provider_events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedEvents,
    StoreResult,
    parse_events,
    store_events,
    verify_signature,
)
from newsletter.tracking.recorder import EventRecord, Recorder, RecorderClosed, StillWaiting
from newsletter.tracking.registry import DeliveryInfo, LinkInfo, Registry
from newsletter.tracking.rules import RULES_VERSION, Hit, Judgement, MachineRules, RuleSettings
from newsletter.tracking.tracker import MISS, ClickTarget, Reader, Tracker, Visit, rule_settings

__all__ = [
    "MISS",
    "RULES_VERSION",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ClickTarget",
    "DeliveryInfo",
    "EventRecord",
    "Hit",
    "Judgement",
    "LinkInfo",
    "MachineRules",
    "MalformedEvents",
    "Reader",
    "Recorder",
    "RecorderClosed",
    "Registry",
    "RuleSettings",
    "StillWaiting",
    "StoreResult",
    "Tracker",
    "Visit",
    "parse_events",
    "rule_settings",
    "store_events",
    "verify_signature",
]
