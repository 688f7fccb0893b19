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
CANDIDATES = 4
_RARE_POSTING = 150
_WORD_CACHE_SIZE = 200_000
PREFILTER_CUTOFF = 66
_RANK_CHUNK = 8
RANK_BOUND_WEIGHT = 100.0
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


def _first(item: tuple[int, object, object, object, object]) -> int:
    return item[0]


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1:] for i in range(len(word))]


_Postings = tuple[dict[int, float], ...]


class NameIndex:
    """Listed names of one kind of entry (parties, or vessels), ready for sub-linear retrieval."""

    def __init__(self, entries: Sequence[ListedEntry], vocabulary: NameWords, vessels: bool = False) -> None:
        self.entries = list(entries)
        self.vessels = vessels
        self.vocabulary = vocabulary
        self.names: list[IndexedName] = []
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)  # word or ~skeleton -> name id: weight
        self._name_weight: list[float] = []
        self._sorted_text: list[str] = []
        # a listed word, or a listed word less one letter -> the listed words it stands for (typos are one edit)
        self._near: dict[str, tuple[str, ...]] = {}
        self._whole: dict[str, list[int]] = defaultdict(list)
        self._initials: dict[str, list[int]] = defaultdict(list)
        self._word_cache: dict[tuple[str, bool], _Postings] = {}
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
        near: dict[str, list[str]] = defaultdict(list)
        for word in self._postings:
            if word.startswith("~"):
                continue
            near[word].append(word)
            if len(word) >= 4 and not word.isdigit():
                for variant in _deletions(word):
                    near[variant].append(word)
        self._near = {variant: tuple(words) for variant, words in near.items()}
        self._postings = dict(self._postings)  # built: a look-up must never add an empty list

    def _add(self, name: IndexedName) -> None:
        name_id = len(self.names)
        self.names.append(name)
        self._name_weight.append(sum(name.key.weights) or 1.0)
        self._sorted_text.append(" ".join(name.key.sorted_tokens))
        self._whole[name.key.joined].append(name_id)
        if name.quality is AliasQuality.weak:
            return  # acronyms match only whole (see module docstring)
        for word, skel, weight in set(zip(name.key.tokens, name.key.skeletons, name.key.weights, strict=True)):
            self._postings[word][name_id] = weight
            if len(skel) >= 2:
                skel_posting = self._postings["~" + skel]
                skel_posting[name_id] = max(weight, skel_posting.get(name_id, 0.0))
        if len(name.key.tokens) >= 3:
            self._initials[initials(name.key)].append(name_id)

    @property
    def size(self) -> int:
        return len(self.names)

    def _word_postings(self, word: str, skel: str, by_skeleton: bool) -> _Postings:
        """The posting lists a query word reaches: its own, those of listed words one edit from it and, with
        ``by_skeleton``, that of its consonant skeleton (remembered: queries share most words)."""
        cache_key = (word, by_skeleton)
        cached = self._word_cache.get(cache_key)
        if cached is not None:
            return cached
        postings_of = self._postings
        keys = sorted(self._words_like(word))
        if by_skeleton:
            keys.append("~" + skel)
        found = tuple(p for k in keys if (p := postings_of.get(k)) is not None)
        if len(self._word_cache) >= _WORD_CACHE_SIZE:
            self._word_cache.clear()  # the words of recent queries are the likely ones
        self._word_cache[cache_key] = found
        return found

    def _words_like(self, word: str) -> set[str]:
        """Listed words equal to ``word`` or one edit from it."""
        found = {word}
        if len(word) >= 4 and not word.isdigit():
            near = self._near
            for variant in (word, *_deletions(word)):
                listed = near.get(variant)
                if listed is not None:
                    found.update(listed)
        return found

    def candidates(self, key: NameKey, floor: float, limit: int = CANDIDATES) -> list[int]:
        """Ids of the listed names that could score ``floor`` against ``key``, most promising first.

        See ``_viable`` for which names can. When more than ``limit`` remain, rapidfuzz scores them on their
        sorted words (in C), those scoring below ``PREFILTER_CUTOFF`` are dropped, and only the best ``limit``
        are kept, by that score plus their best case: every name holding all the query's words (or all of whose
        words the query holds) scores 100 on ``token_set_ratio``, and the best case tells them apart.
        """
        viable = self._viable(key, floor)
        viable.sort(reverse=True)  # best case first
        if len(viable) <= limit:
            return [name_id for _, name_id in viable]
        query = " ".join(key.sorted_tokens)
        sorted_text = self._sorted_text
        best: list[tuple[float, int]] = []
        for start in range(0, len(viable), _RANK_CHUNK):
            chunk = viable[start:start + _RANK_CHUNK]
            for _, score, position in process.extract(query, [sorted_text[n] for _, n in chunk],
                                                      scorer=fuzz.token_set_ratio, processor=None, limit=None,
                                                      score_cutoff=PREFILTER_CUTOFF):
                bound, name_id = chunk[position]
                best.append((-(score + RANK_BOUND_WEIGHT * bound), name_id))
            if len(best) >= limit and start + _RANK_CHUNK < len(viable):
                best.sort()
                del best[limit:]
                # the names left score at most 100 on the words, plus their best case
                if -best[-1][0] > 100.0 + RANK_BOUND_WEIGHT * viable[start + _RANK_CHUNK][0]:
                    break
        best.sort()
        return [name_id for _, name_id in best[:limit]]

    def _viable(self, key: NameKey, floor: float) -> list[tuple[float, int]]:
        """The listed names that could score ``floor`` against ``key``, each with its best possible score.

        Support counts, for each listed name, the weight of the query's words it shares (exactly, by a typo, or
        by skeleton) and the weight of its own words that were hit. A comparison scores
        ``0.6 * query coverage + 0.4 * listed coverage``; long query words that did not reach a name may still
        match it with two typos, so they are credited optimistically, and a name whose best case stays below
        ``floor`` is never compared.

        Most names share a single word with the query, and their best case is then known for the whole posting
        list at once: such a list is looked at name by name only when that one word could carry a match. Names
        sharing several words are found by intersecting posting lists (in C).
        """
        distinctive = any(w >= 0.5 for w in key.weights)
        skipped = 0.0  # weight of generic words not used for retrieval: assume they match (an upper bound)
        long_total = 0.0
        postings_of = self._postings
        words: list[tuple[int, _Postings, _Postings, float, bool]] = []
        for word, skel, weight in zip(key.tokens, key.skeletons, key.weights, strict=True):
            if distinctive and weight < 0.5:
                skipped += weight
                continue
            # A query word that is itself a listed word is spelt as listed: names without it will not match it by
            # two typos. Only a word no listed name contains earns the typo credit below.
            unknown = len(word) >= 2 and not word.isdigit() and word not in postings_of
            if unknown:
                long_total += weight
            every = self._word_postings(word, skel, len(skel) >= 3 or (key.arabic and len(skel) >= 2))
            postings = every
            if distinctive and any(len(p) > _COMMON_POSTING for p in every):
                postings = tuple(p for p in every if len(p) <= _COMMON_POSTING)
            if postings:
                words.append((sum(map(len, postings)), postings, every, weight, unknown))
        if not words:
            return []
        # Rare words first: their postings are short and name the candidates. A common word (a frequent surname,
        # a brand every list repeats) then only adds support to candidates already found, unless no rare word
        # found any: walking its long posting list for every query would cost more than all the rest.
        words.sort(key=_first)
        walked: list[tuple[dict[int, float], float, bool]] = []
        checked: list[tuple[_Postings, float]] = []
        for size, postings, every, weight, unknown in words:
            if walked and size > _RARE_POSTING:
                checked.append((every, weight))
                continue
            hits = postings[0]
            if len(postings) > 1:
                hits = dict(hits)
                for posting in postings[1:]:
                    hits.update(posting)
            walked.append((hits, weight, unknown))

        total_q = sum(key.weights) or 1.0
        name_weight = self._name_weight
        viable: list[tuple[float, int]] = []
        # Names met by more than one query word, each scored in full.
        several: set[int] = set()
        for position, (hits, _, _) in enumerate(walked):
            for other, _, _ in walked[position + 1:]:
                several.update(hits.keys() & other.keys())
            for every, _ in checked:
                for posting in every:
                    several.update(hits.keys() & posting.keys())
        for name_id in several:
            shared = listed = found_long = 0.0
            for hits, weight, unknown in walked:
                listed_weight = hits.get(name_id)
                if listed_weight is not None:
                    shared += weight
                    listed += listed_weight
                    if unknown:
                        found_long += weight
            for every, weight in checked:
                best = max((p[name_id] for p in every if name_id in p), default=None)
                if best is not None:
                    shared += weight
                    listed += best
            # A long query word that did not reach this name may still match it with two typos.
            maybe = skipped + TYPO_CREDIT * (long_total - found_long)
            query_share = (shared + maybe) / total_q
            listed_share = (listed + maybe) / name_weight[name_id]
            bound = 0.6 * (query_share if query_share < 1.0 else 1.0) + 0.4 * (
                listed_share if listed_share < 1.0 else 1.0)
            if bound >= floor:
                viable.append((bound, name_id))
        # Names met by one query word only: their query coverage is that word's.
        for hits, weight, unknown in walked:
            maybe = skipped + TYPO_CREDIT * (long_total - (weight if unknown else 0.0))
            query_share = (weight + maybe) / total_q
            query_part = 0.6 * (query_share if query_share < 1.0 else 1.0)
            if query_part + 0.4 < floor:
                continue  # not even a name made of this word alone could score ``floor``
            for name_id, listed_weight in hits.items():
                listed_share = (listed_weight + maybe) / name_weight[name_id]
                bound = query_part + 0.4 * (listed_share if listed_share < 1.0 else 1.0)
                if bound >= floor and name_id not in several:
                    viable.append((bound, name_id))
        return viable

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
