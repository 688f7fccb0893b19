"""Country names as the lists write them -> ISO 3166-1 alpha-2, on top of the engine's country table.

The engine's ``country_table`` (``service/engine/data/countries.yaml``) knows country names and codes. The lists
add their own ways of writing places that are not country names: OFAC's ``Region: Crimea``, the adjective
``Palestinian``, placeholders such as ``undetermined``. Those few are handled here; names nobody can map are
counted so an import reports them instead of dropping them silently.
"""

from __future__ import annotations

from collections import Counter

from service.engine.normalise import fold
from service.engine.reference import CountryTable, country_table

# Written by the lists where no country is known: not an error, nothing to record.
_NO_COUNTRY = {"", "0", "00", "na", "n a", "none", "none identified", "undetermined", "unknown", "not known",
               "stateless", "region commonwealth of independent states", "international"}

# Places and adjectives the lists use that are not in the country table, by their folded spelling.
_LIST_PLACES = {
    "palestinian": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "gaza strip": "PS",
    "crimea": "UA",
    "northern mali": "ML",
    "kosovo": "XK",
    "serbia and montenegro": "RS",
    "yugoslavia": "RS",
    "ussr": "RU",
    "soviet union": "RU",
    "burma": "MM",
    "congo democratic republic": "CD",
    "occupied palestinian territories": "PS",
    "cote d ivoire": "CI",
}


class CountryResolver:
    """Resolves country names and codes of one import, remembering the ones it could not resolve."""

    def __init__(self, table: CountryTable | None = None) -> None:
        self._table = table if table is not None else country_table()
        self._cache: dict[str, str | None] = {}
        self.unresolved: Counter[str] = Counter()

    def resolve(self, text: object) -> str | None:
        """ISO alpha-2 code of ``text``, or None (counted in ``unresolved`` unless it says 'no country')."""
        if text is None:
            return None
        raw = str(text).strip()
        if raw in self._cache:
            code = self._cache[raw]
        else:
            code = self._lookup(raw)
            self._cache[raw] = code
        if code is None and fold(raw) not in _NO_COUNTRY:
            self.unresolved[raw] += 1
        return code

    def _lookup(self, raw: str) -> str | None:
        folded = fold(raw)
        if folded in _NO_COUNTRY:
            return None
        code = self._table.resolve(raw)
        if code:
            return code
        # "Region: Crimea", "Region: Gaza": a region inside a country
        if folded.startswith("region "):
            folded = folded[len("region "):]
            code = self._table.resolve(folded)
            if code:
                return code
        # "Iraq (previous address)", "Russian Federation (as at November 2010)": a remark after the name
        if "(" in raw and not raw.startswith("("):
            code = self._table.resolve(raw[: raw.index("(")].strip())
            if code:
                return code
        # OFAC and the UN invert names: "Bahamas, The", "Man, Isle of", "China, Hong Kong Special ..."
        if "," in raw:
            head, _, tail = raw.partition(",")
            for candidate in (f"{tail.strip()} {head.strip()}", tail, head):
                code = self._table.resolve(candidate.strip())
                if code:
                    return code
        return _LIST_PLACES.get(folded)
