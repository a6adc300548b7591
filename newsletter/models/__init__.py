"""Every table of the service. Import from here: ``from newsletter.models import Bulletin``."""

from newsletter.models._base import utcnow
from newsletter.models.activity import ActivityEntry, RateCounter
from newsletter.models.apitokens import ApiToken, Scope
from newsletter.models.bulletins import (
    TRANSITIONS,
    Bulletin,
    BulletinStatus,
    Link,
    LinkKind,
    Variant,
)
from newsletter.models.deliveries import Delivery, DeliveryStatus
from newsletter.models.events import Event, EventSource, EventType
from newsletter.models.plan import PlanRevision
from newsletter.models.reports import (
    BulletinEventsVersion,
    CourseBooking,
    EventRollup,
    MachineReasonRollup,
    ReportCache,
    ReportCacheReason,
    ReportCacheState,
    RollupLevel,
)
from newsletter.models.reviews import BulletinReview, ReviewAction
from newsletter.models.schedule import ScheduleAction
from newsletter.models.sending import (
    OPEN_REQUEST_STATES,
    SchedulerHeartbeat,
    SendRequest,
    SendRequestKind,
    SendRequestState,
    SendRun,
)
from newsletter.models.subscribers import (
    Agency,
    Audience,
    LawfulBasis,
    PendingSignup,
    Source,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.models.users import (
    AccountLink,
    LinkPurpose,
    Role,
    SessionStage,
    StaffSession,
    User,
    UserRole,
)

__all__ = [
    "OPEN_REQUEST_STATES",
    "TRANSITIONS",
    "AccountLink",
    "ActivityEntry",
    "Agency",
    "ApiToken",
    "Audience",
    "Bulletin",
    "BulletinEventsVersion",
    "BulletinReview",
    "BulletinStatus",
    "CourseBooking",
    "Delivery",
    "DeliveryStatus",
    "Event",
    "EventRollup",
    "EventSource",
    "EventType",
    "LawfulBasis",
    "Link",
    "LinkKind",
    "LinkPurpose",
    "MachineReasonRollup",
    "PendingSignup",
    "PlanRevision",
    "RateCounter",
    "ReportCache",
    "ReportCacheReason",
    "ReportCacheState",
    "ReviewAction",
    "Role",
    "RollupLevel",
    "ScheduleAction",
    "SchedulerHeartbeat",
    "Scope",
    "SendRequest",
    "SendRequestKind",
    "SendRequestState",
    "SendRun",
    "SessionStage",
    "Source",
    "StaffSession",
    "Subscriber",
    "SubscriberStatus",
    "Suppression",
    "User",
    "UserRole",
    "Variant",
    "utcnow",
]
