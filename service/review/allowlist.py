"""The allow-list: false positives decided once are not asked again, unless something changed.

An entry remembers the party as screened (its value normalised, its country and identifiers), the list
entry it was wrongly matched to with a digest of that entry's content, and the rule with a digest of its
spec. ``apply_allow_list`` marks a later match suppressed only while all of these still hold and the entry
has not expired or been revoked; otherwise the match counts again, which re-opens the question.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, select

from service.engine.normalise import fold
from service.errors import NotFoundError, RecordError
from service.model import Action, Decision, Evidence, Flag, Record, ScreeningResult
from service.review.audit import record_audit
from service.rulepack import Pack
from service.store.database import Database
from service.store.tables import AllowListRow

#: Evidence of these kinds states a fact about the record (a country in a group, a missing role), not a
#: match against a list entry, so it is neither a question for a reviewer nor allow-listable.
FACT_KINDS = frozenset({"country", "role"})
_PARTY_PATH = re.compile(r"^(parties|vessels)\[(\d+)\]")
#: Scores of all-suppressed results stay below the clear threshold the engine uses (under 20).
_CLEAR_SCORE_CAP = 19


def content_digest(spec: BaseModel) -> str:
    """sha256 of a spec's canonical JSON: changes whenever any of its content does."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_digest(pack: Pack, entry_id: str) -> str | None:
    """Digest of the list entry ``entry_id`` as the pack holds it now, None when the pack lacks it."""
    entry = pack.entry(entry_id)
    return content_digest(entry) if entry is not None else None


def rule_digest(pack: Pack, rule_id: str) -> str | None:
    """Digest of the rule's spec as the pack holds it now, None when the pack lacks it."""
    for rule in pack.rules:
        if rule.id == rule_id:
            return content_digest(rule)
    return None


def is_match(evidence: Evidence) -> bool:
    """Whether a piece of evidence is a match against a list entry (something a reviewer decides)."""
    return evidence.entry is not None and evidence.kind not in FACT_KINDS


def normalise_value(value: str) -> str:
    """The form a party value is compared in (case, accents, scripts and punctuation folded)."""
    return fold(value)


@dataclass(frozen=True)
class PartyData:
    """What the record says about the party behind a match, besides its name."""

    country: str | None
    identifiers: dict[str, str]


def party_data(record: Record | dict[str, Any] | None, field: str) -> PartyData:
    """The country and identifiers of the party (or vessel) that the evidence path ``field`` points into."""
    found = _PARTY_PATH.match(field)
    data = record.model_dump(mode="json") if isinstance(record, Record) else (record or {})
    if found is None:
        return PartyData(None, {})
    items = data.get(found.group(1)) or []
    index = int(found.group(2))
    if index >= len(items):
        return PartyData(None, {})
    item = items[index]
    if found.group(1) == "vessels":
        identifiers = {"imo": str(item["imo"]).strip()} if item.get("imo") else {}
        country = item.get("flag")
    else:
        identifiers = {str(k): str(v).strip() for k, v in (item.get("identifiers") or {}).items() if v}
        country = item.get("country")
    return PartyData(str(country).strip().upper() if country else None, identifiers)


@dataclass(frozen=True)
class AllowListEntry:
    """One allow-list entry as ``apply_allow_list`` reads it."""

    id: int
    party_value: str
    party_country: str | None
    party_identifiers: dict[str, str]
    entry_id: str
    entry_digest: str
    rule_id: str
    rule_digest: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    alert_id: int | None

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> AllowListEntry:
        """From a Core result row's mapping."""
        return cls(row["id"], row["party_value"], row["party_country"], dict(row["party_identifiers"]),
                   row["entry_id"], row["entry_digest"], row["rule_id"], row["rule_digest"], row["reason"],
                   row["created_by"], row["created_at"], row["expires_at"], row["revoked_at"], row["alert_id"])

    @classmethod
    def from_row(cls, row: AllowListRow) -> AllowListEntry:
        return cls(row.id, row.party_value, row.party_country, dict(row.party_identifiers), row.entry_id,
                   row.entry_digest, row.rule_id, row.rule_digest, row.reason, row.created_by, row.created_at,
                   row.expires_at, row.revoked_at, row.alert_id)

    def active_at(self, moment: datetime) -> bool:
        return self.revoked_at is None and moment < self.expires_at


def _covers(entry: AllowListEntry, flag: Flag, evidence: Evidence, party: PartyData, pack: Pack,
            moment: datetime, digests: dict[tuple[str, str], str | None]) -> bool:
    if (evidence.entry != entry.entry_id or flag.rule != entry.rule_id or not entry.active_at(moment)
            or normalise_value(evidence.value) != entry.party_value):
        return False
    if party.country != entry.party_country or party.identifiers != entry.party_identifiers:
        return False
    entry_key = ("entry", entry.entry_id)
    if entry_key not in digests:
        digests[entry_key] = entry_digest(pack, entry.entry_id)
    rule_key = ("rule", entry.rule_id)
    if rule_key not in digests:
        digests[rule_key] = rule_digest(pack, entry.rule_id)
    return digests[entry_key] == entry.entry_digest and digests[rule_key] == entry.rule_digest


def apply_allow_list(result: ScreeningResult, pack: Pack, entries: Sequence[AllowListEntry],
                     record: Record | dict[str, Any] | None, *, now: datetime | None = None) -> ScreeningResult:
    """The result with allow-listed matches marked (``Evidence.suppressed_by``) and flags whose every list
    match is allow-listed marked ``suppressed``; the decision is recomputed from the unsuppressed flags.

    Matches are never dropped. ``record`` supplies the party's country and identifiers (a change to them
    means the allow-list entry no longer applies). Returns ``result`` itself when nothing is suppressed.
    """
    if not entries or not result.flags:
        return result
    moment = now or datetime.now(UTC)
    by_entry: dict[str, list[AllowListEntry]] = {}
    for entry in entries:
        by_entry.setdefault(entry.entry_id, []).append(entry)
    digests: dict[tuple[str, str], str | None] = {}
    changed = False
    flags: list[Flag] = []
    for flag in result.flags:
        evidence_out: list[Evidence] = []
        listed = suppressed = 0
        for evidence in flag.evidence:
            cover = None
            if evidence.entry is not None and is_match(evidence):
                listed += 1
                party = party_data(record, evidence.field)
                cover = next((e for e in by_entry.get(evidence.entry, ())
                              if _covers(e, flag, evidence, party, pack, moment, digests)), None)
            if cover is not None:
                suppressed += 1
                evidence_out.append(evidence.model_copy(update={"suppressed_by": str(cover.id)}))
            else:
                evidence_out.append(evidence)
        if suppressed:
            changed = True
            flags.append(flag.model_copy(update={"evidence": evidence_out, "suppressed": suppressed == listed}))
        else:
            flags.append(flag)
    if not changed:
        return result
    counting = [flag for flag in flags if not flag.suppressed]
    if any(flag.action == Action.block for flag in counting):
        decision = Decision.block
    elif counting:
        decision = Decision.review
    else:
        decision = Decision.clear
    score = result.risk_score if counting else min(result.risk_score, _CLEAR_SCORE_CAP)
    return result.model_copy(update={"flags": flags, "decision": decision, "risk_score": score})


def active_entries_in(connection: Connection, entry_ids: Sequence[str], *,
                      now: datetime | None = None) -> list[AllowListEntry]:
    """``active_entries`` about ``entry_ids``, read inside the caller's transaction."""
    if not entry_ids:
        return []
    moment = now or datetime.now(UTC)
    table = AllowListRow.__table__
    statement = select(table).where(table.c.revoked_at.is_(None), table.c.expires_at > moment,
                                    table.c.entry_id.in_(sorted(set(entry_ids))))
    return [AllowListEntry.from_mapping(row._mapping) for row in connection.execute(statement)]


def active_entries(database: Database, entry_ids: Sequence[str] | None = None,
                   *, now: datetime | None = None) -> list[AllowListEntry]:
    """Unrevoked, unexpired entries (only those about ``entry_ids`` when given)."""
    moment = now or datetime.now(UTC)
    statement = select(AllowListRow).where(AllowListRow.revoked_at.is_(None), AllowListRow.expires_at > moment)
    if entry_ids is not None:
        if not entry_ids:
            return []
        statement = statement.where(AllowListRow.entry_id.in_(sorted(set(entry_ids))))
    with database.session("reading the allow-list") as session:
        return [AllowListEntry.from_row(row) for row in session.scalars(statement)]


def entries_for(database: Database, result: ScreeningResult, *, now: datetime | None = None) -> list[AllowListEntry]:
    """The active entries that could apply to ``result`` (those about the list entries it matched)."""
    ids = [e.entry for f in result.flags for e in f.evidence if e.entry is not None and is_match(e)]
    return active_entries(database, ids, now=now) if ids else []


def list_allow_list(database: Database, *, include_inactive: bool = False, limit: int = 500,
                    before_id: int | None = None) -> list[AllowListEntry]:
    """Allow-list entries, newest first."""
    statement = select(AllowListRow).order_by(AllowListRow.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(AllowListRow.id < before_id)
    if not include_inactive:
        statement = statement.where(AllowListRow.revoked_at.is_(None),
                                    AllowListRow.expires_at > datetime.now(UTC))
    with database.session("reading the allow-list") as session:
        return [AllowListEntry.from_row(row) for row in session.scalars(statement)]


def new_allow_list_row(pack: Pack, *, rule_id: str, evidence_value: str, field: str, entry_id: str,
                       record: Record | dict[str, Any] | None, reason: str, actor: str, days: int,
                       alert_id: int | None, now: datetime | None = None) -> AllowListRow:
    """An allow-list row for one match, with the digests of the entry and rule as the pack holds them now."""
    if not reason.strip():
        raise RecordError([("comment", "say why this match is a false positive")])
    if days < 1:
        raise RecordError([("expires_days", "at least 1 day")])
    current_entry = entry_digest(pack, entry_id)
    current_rule = rule_digest(pack, rule_id)
    if current_entry is None:
        raise RecordError([("entry", f"the current pack has no list entry {entry_id!r}")])
    if current_rule is None:
        raise RecordError([("rule", f"the current pack has no rule {rule_id!r}")])
    party = party_data(record, field)
    moment = now or datetime.now(UTC)
    return AllowListRow(party_value=normalise_value(evidence_value), party_country=party.country,
                        party_identifiers=party.identifiers, entry_id=entry_id, entry_digest=current_entry,
                        rule_id=rule_id, rule_digest=current_rule, reason=reason.strip(), created_by=actor,
                        created_at=moment, expires_at=moment + timedelta(days=days), alert_id=alert_id)


def allow_list_snapshot(row: AllowListRow) -> dict[str, Any]:
    """The audit trail's picture of an entry."""
    return {"party_value": row.party_value, "party_country": row.party_country,
            "party_identifiers": row.party_identifiers, "entry_id": row.entry_id, "entry_digest": row.entry_digest,
            "rule_id": row.rule_id, "rule_digest": row.rule_digest, "reason": row.reason,
            "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}


def revoke_allow_list_entry(database: Database, entry_id: int, actor: str, reason: str) -> AllowListEntry:
    """Revoke an entry: its matches count again from the next screening."""
    if not reason.strip():
        raise RecordError([("comment", "say why the entry is revoked")])
    with database.session("revoking an allow-list entry") as session:
        row = session.get(AllowListRow, entry_id)
        if row is None:
            raise NotFoundError(f"no allow-list entry with id {entry_id}")
        before = allow_list_snapshot(row)
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            record_audit(session, actor, "allow_list.revoke", "allow_list", row.id, before=before,
                         after={**allow_list_snapshot(row), "comment": reason.strip()})
        return AllowListEntry.from_row(row)
