"""Read ``campaigns/`` into a :class:`~newsletter.plan.model.Plan`, reporting every problem.

:func:`load_plan` never stops at the first error: it reads every file, checks each on its own
and against the others (:mod:`newsletter.plan.checker`), and returns all the errors it found,
each with file, line, field and a plain-English message. It writes nothing. A plan is returned
only when there are no errors at all, so nothing downstream ever sees half a plan.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path

from newsletter.agencies import AgencyFileError, read_agencies
from newsletter.config import Settings
from newsletter.plan.checker import Checker
from newsletter.plan.model import LoadResult, PlanError
from newsletter.plan.snapshot import Snapshot, take_snapshot


class PlanInvalid(Exception):
    """The plan has errors; ``errors`` lists every one (file, line, field, message)."""

    def __init__(self, errors: list[PlanError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(error) for error in self.errors[:3])
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        super().__init__(f"the plan has {len(self.errors)} error(s): {shown}{more}")


# Results by (folder as named, agencies, digest, folders): the scheduler and the web app load the
# plan often, and parsing YAML with line numbers costs far more than reading and hashing it.
_CACHE_SIZE = 8
_cache: OrderedDict[tuple[object, ...], LoadResult] = OrderedDict()
_cache_lock = threading.Lock()


def load_plan(plan_dir: Path, *, agencies: Collection[str] | None = None) -> LoadResult:
    """Read and check the plan in ``plan_dir``. Agency names are checked when ``agencies`` is
    given. ``result.plan`` is None unless there were no errors.

    Unchanged files give the same result without parsing them again (the same ``Plan`` object:
    treat it as read-only).
    """
    try:
        snapshot = take_snapshot(plan_dir)
    except OSError as exc:
        where = str(exc.filename or plan_dir)
        return LoadResult(None, [PlanError(where, None, "", f"cannot be read: {exc.strerror}")])
    return check_snapshot(snapshot, agencies=agencies)


def check_snapshot(
    snapshot: Snapshot, *, agencies: Collection[str] | None = None, frozen: Collection[str] = ()
) -> LoadResult:
    """Check a snapshot (of a folder or of a stored revision); cached by its digest.

    ``frozen`` months were sent already: the checks that judge a month against today's
    catalogue (booking dates, retired items) leave them as they were sent.
    """
    key = (
        str(snapshot.root),
        tuple(agencies) if agencies is not None else None,
        tuple(sorted(frozen)),
        snapshot.digest,
        snapshot.exists,
        snapshot.folders,
    )
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        cached = Checker(snapshot, agencies, frozen=frozen).run()
        with _cache_lock:
            _cache[key] = cached
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return LoadResult(cached.plan, list(cached.errors))


def agency_slugs(settings: Settings) -> list[str]:
    """The agencies plan files may name (``subscribers/agencies.yaml``); PlanInvalid if unreadable."""
    agencies_path = settings.subscribers_dir / "agencies.yaml"
    try:
        return [agency.slug for agency in read_agencies(agencies_path)]
    except AgencyFileError as exc:
        message = str(exc).removeprefix(f"{agencies_path}: ")
        raise PlanInvalid([PlanError(str(agencies_path), None, "", message)]) from exc
