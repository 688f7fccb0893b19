"""What changed between two versions of a compiled list: added, removed and changed entries.

An entry is *changed* when something a match can depend on differs: its type, name, aliases (with their
quality), identifiers, countries or vessel flag. Other differences (programmes, addresses, birth dates, notes)
are reported as *updated*: an officer wants to see them, but they cannot create or remove a match, so
rescreening (which reuses ``diff_lists``) only looks at ``added``, ``removed`` and ``changed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.lists.model import CompiledList, ListMeta
from service.rulepack.spec import AliasSpec, PartySpec

#: Fields whose change can change a screening outcome, in the order they are reported.
MATCHING_FIELDS = ("type", "name", "aliases", "identifiers", "countries", "flag")
#: Fields reported as updates only.
OTHER_FIELDS = ("listings", "addresses", "birth_dates", "related", "notes")


def _alias_set(entry: PartySpec) -> set[tuple[str, str]]:
    return {(alias.name, str(alias.quality)) if isinstance(alias, AliasSpec) else (alias, "strong")
            for alias in entry.aliases}


def _comparable(entry: PartySpec, field: str) -> Any:
    """A field in a form where order does not matter (lists become sets)."""
    if field == "aliases":
        return _alias_set(entry)
    if field == "identifiers":
        return {(str(kind), value) for kind, values in entry.identifiers.items() for value in values}
    if field == "listings":
        return {listing.model_dump_json() for listing in entry.listings}
    value = getattr(entry, field)
    return set(value) if isinstance(value, list) else value


def _describe(field: str, old: Any, new: Any) -> str:
    if isinstance(old, set) and isinstance(new, set):
        def show(items: set[Any]) -> str:
            return ", ".join(sorted(" ".join(i) if isinstance(i, tuple) else str(i) for i in items))
        parts = []
        if added := new - old:
            parts.append(f"+[{show(added)}]")
        if removed := old - new:
            parts.append(f"-[{show(removed)}]")
        return f"{field}: {' '.join(parts)}"
    return f"{field}: {old!r} -> {new!r}"


@dataclass(frozen=True)
class EntryChange:
    """One entry present in both versions with different content."""

    old: PartySpec
    new: PartySpec
    fields: tuple[str, ...]
    details: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.new.id

    @property
    def affects_matching(self) -> bool:
        return any(field in MATCHING_FIELDS for field in self.fields)


@dataclass(frozen=True)
class ListDiff:
    """Differences from ``old`` to ``new``; entries are matched by id."""

    old: ListMeta | None
    new: ListMeta | None
    added: tuple[PartySpec, ...]
    removed: tuple[PartySpec, ...]
    changed: tuple[EntryChange, ...]
    updated: tuple[EntryChange, ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.updated)

    def affected_ids(self) -> set[str]:
        """Ids whose screening outcome may differ: added, removed and changed entries."""
        return {e.id for e in self.added} | {e.id for e in self.removed} | {c.id for c in self.changed}

    def entries_to_rescreen(self) -> list[PartySpec]:
        """The entries a rescreen must compare the monitored parties with: the new version of added and
        changed entries (a match may appear) and the old version of removed and changed ones (a match may
        go away)."""
        return [*self.added, *(c.new for c in self.changed), *(c.old for c in self.changed), *self.removed]


def diff_entries(old: PartySpec, new: PartySpec) -> EntryChange | None:
    """The change from ``old`` to ``new`` (same id), or None when they are equal."""
    if old == new:
        return None
    fields: list[str] = []
    details: list[str] = []
    for field in (*MATCHING_FIELDS, *OTHER_FIELDS, "verification", "sources"):
        before, after = _comparable(old, field), _comparable(new, field)
        if before != after:
            fields.append(field)
            details.append(_describe(field, before, after) if field != "notes" else "notes changed")
    if not fields:
        return None  # only the order of list items differs
    return EntryChange(old=old, new=new, fields=tuple(fields), details=tuple(details))


def diff_lists(old: CompiledList | list[PartySpec], new: CompiledList | list[PartySpec]) -> ListDiff:
    """Added, removed, changed (matching fields) and updated (other fields) entries from ``old`` to ``new``."""
    old_entries = old.entries if isinstance(old, CompiledList) else old
    new_entries = new.entries if isinstance(new, CompiledList) else new
    before = {entry.id: entry for entry in old_entries}
    after = {entry.id: entry for entry in new_entries}
    changed: list[EntryChange] = []
    updated: list[EntryChange] = []
    unchanged = 0
    for ident, entry in after.items():
        previous = before.get(ident)
        if previous is None:
            continue
        change = diff_entries(previous, entry)
        if change is None:
            unchanged += 1
        elif change.affects_matching:
            changed.append(change)
        else:
            updated.append(change)
    return ListDiff(
        old=old.meta if isinstance(old, CompiledList) else None,
        new=new.meta if isinstance(new, CompiledList) else None,
        added=tuple(entry for ident, entry in after.items() if ident not in before),
        removed=tuple(entry for ident, entry in before.items() if ident not in after),
        changed=tuple(changed),
        updated=tuple(updated),
        unchanged=unchanged,
    )
