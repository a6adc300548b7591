"""The agency catalogue: ``subscribers/agencies.yaml`` loaded into the ``agency`` table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from sqlmodel import Session, select

from newsletter.models import Agency
from newsletter.yamllimits import YamlLimitExceeded, check_size, load_within_limits


class AgencyFileError(ValueError):
    """agencies.yaml is missing or malformed."""


@dataclass(frozen=True)
class AgencyDef:
    slug: str
    name: str
    domains: tuple[str, ...]


def read_agencies(path: Path) -> list[AgencyDef]:
    """Parse agencies.yaml: a list of {slug, name, domains}."""
    try:
        raw = path.read_bytes()
        check_size(raw)
        data = load_within_limits(YAML(typ="safe"), raw.decode("utf-8"))
    except YamlLimitExceeded as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise AgencyFileError(f"{where}: {exc.message}") from None
    except FileNotFoundError as exc:
        raise AgencyFileError(f"{path}: no such file") from exc
    except Exception as exc:
        raise AgencyFileError(f"{path}: not valid YAML: {exc}") from exc
    entries = data.get("agencies") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise AgencyFileError(f"{path}: expected a top-level 'agencies:' list")
    out: list[AgencyDef] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("slug") or not entry.get("name"):
            raise AgencyFileError(f"{path}: agencies[{index}] needs a slug and a name")
        slug = str(entry["slug"])
        if slug in seen:
            raise AgencyFileError(f"{path}: agencies[{index}]: slug {slug!r} appears twice")
        seen.add(slug)
        domains = tuple(str(d).lower() for d in entry.get("domains") or ())
        out.append(AgencyDef(slug=slug, name=str(entry["name"]), domains=domains))
    return out


def sync_agencies(session: Session, definitions: list[AgencyDef]) -> int:
    """Insert or update every agency from the catalogue; returns how many were added."""
    existing = {a.slug: a for a in session.exec(select(Agency)).all()}
    added = 0
    for position, d in enumerate(definitions):
        row = existing.get(d.slug)
        if row is None:
            session.add(
                Agency(slug=d.slug, name=d.name, domains=list(d.domains), position=position)
            )
            added += 1
        else:
            row.name, row.domains, row.position = d.name, list(d.domains), position
            session.add(row)
    session.flush()
    return added


def agency_slugs(session: Session) -> list[str]:
    return list(session.exec(select(Agency.slug).order_by(Agency.position)).all())  # type: ignore[arg-type]
