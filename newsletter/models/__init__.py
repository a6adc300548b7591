"""Every table of the service. Import from here: ``from newsletter.models import Bulletin``."""

from newsletter.models._base import utcnow
from newsletter.models.activity import ActivityEntry, RateCounter
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
from newsletter.models.schedule import ScheduleAction
from newsletter.models.subscribers import (
    Agency,
    Audience,
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
    "TRANSITIONS",
    "AccountLink",
    "ActivityEntry",
    "Agency",
    "Audience",
    "Bulletin",
    "BulletinEventsVersion",
    "BulletinStatus",
    "CourseBooking",
    "Delivery",
    "DeliveryStatus",
    "Event",
    "EventRollup",
    "EventSource",
    "EventType",
    "Link",
    "LinkKind",
    "LinkPurpose",
    "MachineReasonRollup",
    "PlanRevision",
    "RateCounter",
    "ReportCache",
    "ReportCacheReason",
    "ReportCacheState",
    "Role",
    "RollupLevel",
    "ScheduleAction",
    "SessionStage",
    "StaffSession",
    "Subscriber",
    "SubscriberStatus",
    "Suppression",
    "User",
    "UserRole",
    "Variant",
    "utcnow",
]
