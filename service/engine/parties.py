"""Party and vessel matching: an index built once per pack, queried per record party.

Retrieval never scans every listed name. Each listed word is posted under itself, under its consonant
skeleton (transliteration variants) and under its one-letter deletions (typos), so a query word finds the
listed names that share a word with it in a few dictionary look-ups. Only the best-supported candidates are
then scored with ``compare_names``. Acronym aliases match only when the whole query equals them, and a query of
one word may match the initials of a long listed name (``IRISL``).

Exact identifiers (INN, OGRN, OKPO, national id, registration and tax numbers, passports, IMO numbers) win on
their own: a listed INN under an unrelated name is still that company.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from service.engine.names import SINGLE_WORD_CAP, NameKey, analyse_name, compare_names, initials
from service.engine.normalise import compact, digits_only
from service.engine.reference import NameWords
from service.model import IdentifierKind
from service.rulepack.spec import AliasQuality, AliasSpec, EntryType, PartySpec, Verification

#: Identifier kinds that number the same thing in different registers are compared with each other.
_COMPANY_NUMBERS = frozenset({IdentifierKind.inn, IdentifierKind.ogrn, IdentifierKind.okpo,
                              IdentifierKind.national_id, IdentifierKind.registration, IdentifierKind.tax_id,
                              IdentifierKind.lei})

#: Posting lists longer than this belong to words too common to retrieve candidates on their own.
_COMMON_POSTING = 3000
CANDIDATES = 6
_RARE_POSTING = 150
_LIKE_CACHE_SIZE = 200_000
PREFILTER_CUTOFF = 72
TYPO_CREDIT = 0.8
UNVERIFIED_FACTOR = 0.92


def identifier_key(kind: IdentifierKind | str, value: str) -> str | None:
    """The comparable form of an identifier, or None when it is too short to identify anything."""
    kind = IdentifierKind(kind)
    if kind is IdentifierKind.imo:
        digits = digits_only(value)
        return f"imo:{digits}" if len(digits) == 7 else None
    if kind in _COMPANY_NUMBERS:
        digits = digits_only(value)
        if len(digits) >= 6 and len(digits) >= len(compact(value)) - 2:
            return f"num:{digits}"
        text = compact(value)
        return f"num:{text}" if len(text) >= 6 else None
    text = compact(value)
    return f"{kind.value}:{text}" if len(text) >= 5 else None


@dataclass(frozen=True, slots=True)
class ListedEntry:
    spec: PartySpec
    list_name: str
    countries: frozenset[str]


@dataclass(frozen=True, slots=True)
class IndexedName:
    entry: int
    text: str
    key: NameKey
    quality: AliasQuality


@dataclass(frozen=True, slots=True)
class NameCandidate:
    entry: ListedEntry
    matched: str
    score: float
    method: str
    legal_forms: frozenset[str]
    listed_key: NameKey


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class NameIndex:
    """Listed names of one kind of entry (parties, or vessels), ready for sub-linear retrieval."""

    def __init__(self, entries: Sequence[ListedEntry], vocabulary: NameWords, vessels: bool = False) -> None:
        self.entries = list(entries)
        self.vessels = vessels
        self.vocabulary = vocabulary
        self.names: list[IndexedName] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._name_weight: list[float] = []
        self._word_weight: list[dict[str, float]] = []
        self._name_words: list[frozenset[str]] = []
        self._sorted_text: list[str] = []
        self._deletes: dict[str, set[str]] = defaultdict(set)
        self._whole: dict[str, list[int]] = defaultdict(list)
        self._initials: dict[str, list[int]] = defaultdict(list)
        self._like_cache: dict[str, set[str]] = {}
        for entry_index, entry in enumerate(self.entries):
            spec = entry.spec
            aliases: list[tuple[str, AliasQuality]] = [(spec.name, AliasQuality.strong)]
            for alias in spec.aliases:
                if isinstance(alias, AliasSpec):
                    aliases.append((alias.name, alias.quality))
                else:
                    aliases.append((alias, AliasQuality.strong))
            seen: set[tuple[tuple[str, ...], AliasQuality]] = set()
            for text, quality in aliases:
                key = analyse_name(text, vocabulary, vessel=vessels)
                if not key.tokens or (key.tokens, quality) in seen:
                    continue
                seen.add((key.tokens, quality))
                self._add(IndexedName(entry_index, text, key, quality))

    def _add(self, name: IndexedName) -> None:
        name_id = len(self.names)
        self.names.append(name)
        self._name_weight.append(sum(name.key.weights) or 1.0)
        word_weight: dict[str, float] = {}
        for word, skel, weight in zip(name.key.tokens, name.key.skeletons, name.key.weights, strict=True):
            word_weight[word] = max(weight, word_weight.get(word, 0.0))
            word_weight["~" + skel] = max(weight, word_weight.get("~" + skel, 0.0))
        self._word_weight.append(word_weight)
        self._name_words.append(frozenset(word_weight))
        self._sorted_text.append(" ".join(name.key.sorted_tokens))
        self._whole[name.key.joined].append(name_id)
        if name.quality is AliasQuality.weak:
            return  # acronyms match only whole (see module docstring)
        for word, skel, weight in set(zip(name.key.tokens, name.key.skeletons, name.key.weights, strict=True)):
            self._postings[word].append((name_id, weight))
            if len(skel) >= 2:
                self._postings["~" + skel].append((name_id, weight))
            if len(word) >= 4 and not word.isdigit():
                for variant in _deletions(word):
                    self._deletes[variant].add(word)
        if len(name.key.tokens) >= 3:
            self._initials[initials(name.key)].append(name_id)

    @property
    def size(self) -> int:
        return len(self.names)

    def _words_like(self, word: str) -> set[str]:
        """Listed words equal to ``word`` or one edit from it (remembered: queries share most words)."""
        cached = self._like_cache.get(word)
        if cached is not None:
            return cached
        found = self._find_words_like(word)
        if len(self._like_cache) < _LIKE_CACHE_SIZE:
            self._like_cache[word] = found
        return found

    def _find_words_like(self, word: str) -> set[str]:
        found = {word}
        if len(word) >= 4 and not word.isdigit():
            found |= self._deletes.get(word, set())
            for variant in _deletions(word):
                if variant in self._postings:
                    found.add(variant)
                found |= self._deletes.get(variant, set())
        return found

    def candidates(self, key: NameKey, floor: float, limit: int = CANDIDATES) -> list[int]:
        """Ids of the listed names that could score ``floor`` against ``key``, most promising first.

        Support counts, for each listed name, the weight of the query's words it shares (exactly, by a typo, or
        by skeleton) and the weight of its own words that were hit. A comparison scores
        ``0.6 * query coverage + 0.4 * listed coverage``; long query words that did not reach a name may still
        match it with two typos, so they are credited optimistically, and a name whose best case stays below
        ``floor`` is never compared. When many remain, rapidfuzz ranks them on their sorted words (in C) and
        only the best ``limit`` are scored in full.
        """
        support_q: dict[int, float] = defaultdict(float)
        support_l: dict[int, float] = defaultdict(float)
        distinctive = any(w >= 0.5 for w in key.weights)
        skipped = 0.0  # weight of generic words not used for retrieval: assume they match (an upper bound)
        long_total = 0.0
        hit_long: dict[int, float] = defaultdict(float)
        words: list[tuple[int, list[str], list[list[tuple[int, float]]], float, bool]] = []
        for word, skel, weight in zip(key.tokens, key.skeletons, key.weights, strict=True):
            if distinctive and weight < 0.5:
                skipped += weight
                continue
            # A query word that is itself a listed word is spelt as listed: names without it will not match it by
            # two typos. Only a word no listed name contains earns the typo credit below.
            unknown = len(word) >= 2 and not word.isdigit() and word not in self._postings
            if unknown:
                long_total += weight
            keys = list(self._words_like(word))
            if len(skel) >= 3 or (key.arabic and len(skel) >= 2):
                keys.append("~" + skel)
            postings = [p for k in keys if (p := self._postings.get(k)) is not None
                        and (len(p) <= _COMMON_POSTING or not distinctive)]
            size = sum(len(p) for p in postings)
            words.append((size, keys, postings, weight, unknown))
        # Rare words first: their postings are short and name the candidates. A common word (a frequent surname,
        # a brand every list repeats) then only adds support to candidates already found, unless no rare word
        # found any: walking its long posting list for every query would cost more than all the rest.
        words.sort(key=lambda item: item[0])
        for size, keys, postings, weight, unknown in words:
            if size > _RARE_POSTING and support_q:
                wanted = set(keys)
                for name_id in list(support_q):
                    common = wanted & self._name_words[name_id]
                    if common:
                        support_q[name_id] += weight
                        support_l[name_id] += max(self._word_weight[name_id][w] for w in common)
                continue
            hits: dict[int, float] = {}
            for posting in postings:
                hits.update(posting)
            for name_id, listed_weight in hits.items():
                support_q[name_id] += weight
                support_l[name_id] += listed_weight
                if unknown:
                    hit_long[name_id] += weight
        total_q = sum(key.weights) or 1.0
        name_weight = self._name_weight
        viable: list[int] = []
        for name_id, shared in support_q.items():
            # A long query word that did not reach this name may still match it with two typos.
            maybe = skipped + TYPO_CREDIT * (long_total - hit_long.get(name_id, 0.0))
            query_share = (shared + maybe) / total_q
            listed_share = (support_l[name_id] + maybe) / name_weight[name_id]
            bound = 0.6 * (query_share if query_share < 1.0 else 1.0) + 0.4 * (
                listed_share if listed_share < 1.0 else 1.0)
            if bound >= floor:
                viable.append(name_id)
        if len(viable) <= limit:
            return viable
        ranked = process.extract(" ".join(key.sorted_tokens), {n: self._sorted_text[n] for n in viable},
                                 scorer=fuzz.token_set_ratio, processor=None, limit=limit,
                                 score_cutoff=PREFILTER_CUTOFF)
        return [name_id for _, _, name_id in ranked]

    def match(self, key: NameKey, floor: float) -> list[NameCandidate]:
        """Listed entries whose best name scores at least ``floor`` against ``key``, best first."""
        best: dict[int, NameCandidate] = {}

        def offer(name: IndexedName, score: float, method: str) -> None:
            entry = self.entries[name.entry]
            if entry.spec.verification is Verification.unverified:
                score *= UNVERIFIED_FACTOR
            if score < floor:
                return
            current = best.get(name.entry)
            if current is None or score > current.score:
                best[name.entry] = NameCandidate(entry, name.text, round(score, 4), method,
                                                 name.key.legal_forms, name.key)

        for name_id in self._whole.get(key.joined, ()):
            name = self.names[name_id]
            if name.quality is AliasQuality.weak and not key.dropped_stop_words:
                # Persian and Arabic write no short vowels: هسا is the four-letter HESA.
                size = len(name.key.joined) + (1 if name.key.arabic else 0)
                offer(name, 0.93 if size >= 5 else 0.9 if size == 4 else 0.8, "acronym")
        if len(key.tokens) == 1 and len(key.tokens[0]) >= 4 and not any(ch.islower() for ch in key.text):
            # Acronyms are written in capitals (IRISL); "Le Gall" is a name, not the initials of four words.
            for name_id in self._initials.get(key.tokens[0], ()):
                if self.entries[self.names[name_id].entry].spec.type is EntryType.organization:
                    offer(self.names[name_id], 0.86, "initials")
        for name_id in self.candidates(key, floor):
            name = self.names[name_id]
            if name.quality is AliasQuality.weak:
                continue
            result = compare_names(key, name.key)
            method = result.method if name.quality is AliasQuality.strong else f"{result.method}-derived"
            score = result.score
            if result.one_word and self.entries[name.entry].spec.type is not EntryType.organization:
                # A surname alone is not the listed person; half a ship's name is not the ship.
                score = min(score, SINGLE_WORD_CAP)
            offer(name, score, method)
        return sorted(best.values(), key=lambda c: -c.score)


class IdentifierIndex:
    """Exact identifiers of listed entries."""

    def __init__(self, entries: Sequence[ListedEntry]) -> None:
        self.entries = list(entries)
        self._by_key: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for index, entry in enumerate(self.entries):
            for kind, values in entry.spec.identifiers.items():
                for value in values:
                    key = identifier_key(kind, value)
                    if key is not None:
                        self._by_key[key].append((index, kind.value, value))

    def lookup(self, kind: IdentifierKind | str, value: str) -> list[tuple[ListedEntry, str, str]]:
        """Entries holding this identifier: (entry, listed kind, listed value)."""
        key = identifier_key(kind, value)
        if key is None:
            return []
        return [(self.entries[i], k, v) for i, k, v in self._by_key.get(key, ())]


def listed_entries(party_lists: dict[str, list[PartySpec]], types: Iterable[str]) -> list[ListedEntry]:
    """Entries of the given types from every party list, with their countries as a set."""
    wanted = set(types)
    return [ListedEntry(spec, name, frozenset(spec.countries) | ({spec.flag} if spec.flag else set()))
            for name, specs in party_lists.items() for spec in specs if spec.type.value in wanted]
