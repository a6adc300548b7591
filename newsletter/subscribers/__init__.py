"""Subscribers and agency lists: import, consent, preferences, unsubscribe and erasure.

The public names are re-exported here; the implementation lives in private-by-convention
modules, one concept each: ``addresses`` (normalisation and agency domains), ``csvfile``
(reading the file), ``importer`` (judging and storing rows, streamed), ``changes``
(unsubscribe, preferences, bounces, erasure), ``access`` (subject access, export, listing),
``sync`` (an agency's complete list, with leavers), ``suppressions`` (another tool's
opt-outs), ``sample`` (the demo's data), ``fields`` (the rules for a subscriber's own fields,
called by every way in: import, sign-up, sync, API).
"""

from newsletter.subscribers.access import (
    EXPORT_COLUMNS,
    DeliveryRecord,
    SubjectAccess,
    audiences_text,
    export_csv,
    iter_subscribers,
    subject_access,
)
from newsletter.subscribers.addresses import (
    AddressError,
    AgencyDomains,
    ParsedAddress,
    normalise_email,
    parse_address,
)
from newsletter.subscribers.changes import (
    Preferences,
    SubscriberError,
    erase,
    find_by_email,
    find_by_token,
    new_token,
    resubscribe,
    set_preferences,
    stop_sending,
    suppress,
    unsubscribe,
    unsubscribed_at_provider,
)
from newsletter.subscribers.csvfile import COLUMNS, ImportFileError, parse_audiences
from newsletter.subscribers.fields import NAME_MAX, FieldError, clean_name
from newsletter.subscribers.health import STATUSES as LIST_STATUSES
from newsletter.subscribers.health import AgencyHealth, ListHealth, list_health
from newsletter.subscribers.importer import ImportReport, RowIssue, import_csv, import_file
from newsletter.subscribers.sample import load_sample
from newsletter.subscribers.signup import (
    CONFIRM_WITHIN,
    ConfirmState,
    SignupRefused,
    SignupRequest,
    agency_choice,
    check_token,
    confirm_signup,
    consent_wording,
    request_signup,
)
from newsletter.subscribers.suppressions import SuppressionReport, import_suppressions
from newsletter.subscribers.sync import DEFAULT_MAX_LEAVERS, SyncReport, sync_csv

__all__ = [
    "COLUMNS",
    "CONFIRM_WITHIN",
    "DEFAULT_MAX_LEAVERS",
    "EXPORT_COLUMNS",
    "LIST_STATUSES",
    "NAME_MAX",
    "AddressError",
    "AgencyDomains",
    "AgencyHealth",
    "ConfirmState",
    "DeliveryRecord",
    "FieldError",
    "ImportFileError",
    "ImportReport",
    "ListHealth",
    "ParsedAddress",
    "Preferences",
    "RowIssue",
    "SignupRefused",
    "SignupRequest",
    "SubjectAccess",
    "SubscriberError",
    "SuppressionReport",
    "SyncReport",
    "agency_choice",
    "audiences_text",
    "check_token",
    "clean_name",
    "confirm_signup",
    "consent_wording",
    "erase",
    "export_csv",
    "find_by_email",
    "find_by_token",
    "import_csv",
    "import_file",
    "import_suppressions",
    "iter_subscribers",
    "list_health",
    "load_sample",
    "new_token",
    "normalise_email",
    "parse_address",
    "parse_audiences",
    "request_signup",
    "resubscribe",
    "set_preferences",
    "stop_sending",
    "subject_access",
    "suppress",
    "sync_csv",
    "unsubscribe",
    "unsubscribed_at_provider",
]
