"""A summary of a pack for ``screening rules stats``."""

from __future__ import annotations

from collections import Counter

from service.rulepack.compiled import CURATED_LIST, Pack


def pack_stats(pack: Pack) -> list[tuple[str, int, str]]:
    """Rows of (what, count, detail) describing the pack's content."""
    curated = pack.party_lists[CURATED_LIST]
    by_type = Counter(p.type.value for p in curated)
    names = sum(1 + len(p.aliases) for p in curated)
    identifiers = sum(len(v) for p in curated for v in p.identifiers.values())
    by_category = Counter(g.category for g in pack.goods)
    codes = sum(len(g.hs_codes) for g in pack.goods)
    partial = sum(1 for g in pack.goods for c in g.hs_codes if c.partial)
    keywords = sum(len(g.keywords) for g in pack.goods)
    patterns = sum(len(g.part_numbers) for g in pack.goods)
    actions = Counter(r.action.value for r in pack.rules)
    verification = Counter(p.verification.value for p in curated)
    rows = [
        ("parties", by_type["organization"] + by_type["person"],
         f"{by_type['organization']} organisations, {by_type['person']} people"),
        ("vessels", by_type["vessel"], ""),
        ("party names", names, f"primary names and aliases; {identifiers} identifiers"),
        ("goods entries", len(pack.goods), ", ".join(f"{k} {v}" for k, v in sorted(by_category.items()))),
        ("HS codes", codes, f"{partial} partial ('ex') codes"),
        ("keywords", keywords, f"{patterns} part-number patterns"),
        ("ports", len(pack.ports), ", ".join(sorted({t for p in pack.ports for t in p.tags}))),
        ("country groups", len(pack.country_groups), ", ".join(sorted(pack.country_groups))),
        ("address markers", len(pack.address_markers), ", ".join(sorted(pack.address_markers))),
        ("term sets", len(pack.term_sets), ", ".join(sorted(pack.term_sets))),
        ("rules", len(pack.rules), ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))),
        ("rule cases", sum(len(c.cases) for c in pack.cases.values()), ""),
        ("sources", len(pack.sources), ", ".join(f"{k} {v}" for k, v in sorted(
            Counter(s.verification.value for s in pack.sources.values()).items()))),
        ("verification", len(curated), ", ".join(f"{k} {v}" for k, v in sorted(verification.items()))),
    ]
    for name, entries in pack.party_lists.items():
        if name != CURATED_LIST:
            rows.append((f"list {name}", len(entries), pack.list_digests.get(name, "")[:16]))
    return rows
