"""Goods matching: HS codes by prefix, descriptions by keyword phrases, part numbers by pattern.

* **HS codes** are read as digits whatever the punctuation (``8542.31``, ``854231``, ``8542 31 00``,
  ``8542.31.0001``) and match a listed code when they start with it, at the depth the list gives (4, 6, 8 or 10
  digits). A code coarser than the listed one does not match. An "ex" code covers only part of its heading, so
  it counts only when the same line's description or part number corroborates it.
* **Descriptions** match a keyword phrase when its words appear in order, after transliteration and case
  folding, with hyphens and spaces alike (``Shahed-136`` = ``shahed 136`` = ``Шахед-136``), plurals reduced,
  long words allowed a small misspelling or a different ending (``микроконтроллеры``), and abbreviations such
  as MCU, IMU, GNSS or FPGA listed as phrases of their own. An entry's exclusion phrases (``scale model``,
  ``toy``) on the same line cancel its keyword match.
* **Part numbers** match an entry's regular expressions, whole and case-insensitively.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from service.engine.normalise import digits_only, is_arabic_script, skeleton, tokens
from service.model import Goods
from service.rulepack.spec import GoodsSpec

_TEXT_CACHE_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class GoodsHit:
    """One goods line (or the end-use text) matched one goods entry."""

    entry: GoodsSpec
    field: str
    value: str
    matched: str
    method: str
    score: float
    confirmed: bool = True


def stem(word: str) -> str:
    """Reduce an English plural to its singular; other words are returned unchanged."""
    if len(word) > 4 and not word.isdigit():
        if word.endswith("ies"):
            return word[:-3] + "y"
        if word.endswith(("ches", "shes", "sses", "xes")):
            return word[:-2]
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            return word[:-1]
    return word


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def words_agree(text_word: str, keyword_word: str, arabic: bool) -> bool:
    """Whether a description word counts as the keyword's word (see the module docstring)."""
    if text_word == keyword_word:
        return True
    if text_word.isdigit() or keyword_word.isdigit():
        return False
    shortest = min(len(text_word), len(keyword_word))
    if shortest >= 6:
        if _common_prefix(text_word, keyword_word) >= max(5, shortest - 3):
            return True
        if OSA.normalized_similarity(text_word, keyword_word) >= 0.88:
            return True
    if arabic:
        skel = skeleton(text_word)
        return len(skel) >= 2 and skel == skeleton(keyword_word)
    return False


@dataclass(frozen=True, slots=True)
class _Phrase:
    entry: int
    words: tuple[str, ...]
    text: str


class _PhraseSet:
    """Phrases indexed by their first word (and its first five letters, for misspellings and endings)."""

    def __init__(self) -> None:
        self.phrases: list[_Phrase] = []
        self._by_first: dict[str, list[_Phrase]] = defaultdict(list)
        self._by_prefix: dict[str, list[_Phrase]] = defaultdict(list)
        self._by_skeleton: dict[str, list[_Phrase]] = defaultdict(list)

    def add(self, entry: int, text: str) -> None:
        words = tuple(stem(w) for w in tokens(text))
        if not words:
            return
        last = words[-1]
        if len(last) <= 5 and last.isalpha() and stem(last + "s") != last:
            # Plural of a short acronym ("MCUs", "IMUs") that the stemmer must leave alone ("bus", "gas").
            self._add_words(entry, (*words[:-1], last + "s"), text)
        self._add_words(entry, words, text)

    def _add_words(self, entry: int, words: tuple[str, ...], text: str) -> None:
        phrase = _Phrase(entry, words, text)
        self.phrases.append(phrase)
        self._by_first[words[0]].append(phrase)
        if len(words[0]) >= 6:
            self._by_prefix[words[0][:5]].append(phrase)
        self._by_skeleton[skeleton(words[0])].append(phrase)

    def find(self, words: Sequence[str], arabic: bool) -> list[_Phrase]:
        found: list[_Phrase] = []
        size = len(words)
        for start, word in enumerate(words):
            for phrase in self._by_first.get(word, ()):
                if self._rest_agrees(phrase, words, start, size, arabic) and phrase not in found:
                    found.append(phrase)
            if len(word) >= 6:
                for phrase in self._by_prefix.get(word[:5], ()):
                    if (phrase.words[0] != word and words_agree(word, phrase.words[0], arabic)
                            and self._rest_agrees(phrase, words, start, size, arabic) and phrase not in found):
                        found.append(phrase)
            if arabic:
                for phrase in self._by_skeleton.get(skeleton(word), ()):
                    if self._rest_agrees(phrase, words, start, size, arabic, first=True) and phrase not in found:
                        found.append(phrase)
        return found

    @staticmethod
    def _rest_agrees(phrase: _Phrase, words: Sequence[str], start: int, size: int, arabic: bool,
                     first: bool = False) -> bool:
        """Whether the phrase's words after the first (or all, with ``first``) agree with the text at start."""
        count = len(phrase.words)
        if start + count > size:
            return False
        begin = 0 if first else 1
        return all(words_agree(words[start + k], phrase.words[k], arabic) for k in range(begin, count))


class GoodsIndex:
    """Every goods entry of a pack, compiled for matching."""

    def __init__(self, entries: Sequence[GoodsSpec]) -> None:
        self.entries = list(entries)
        self._codes: dict[str, list[tuple[int, bool, str]]] = defaultdict(list)
        self._keywords = _PhraseSet()
        self._excludes: dict[int, _PhraseSet] = {}
        self._part_numbers: list[tuple[int, re.Pattern[str]]] = []
        for index, entry in enumerate(self.entries):
            for code in entry.hs_codes:
                self._codes[digits_only(code.code)].append((index, code.partial, code.code))
            for keyword in entry.keywords:
                self._keywords.add(index, keyword)
            if entry.exclude:
                excludes = _PhraseSet()
                for phrase in entry.exclude:
                    excludes.add(index, phrase)
                self._excludes[index] = excludes
            for pattern in entry.part_numbers:
                self._part_numbers.append((index, re.compile(pattern, re.IGNORECASE)))
        self._depths = sorted({len(code) for code in self._codes})
        # Descriptions repeat across a day's shipments ("ball bearings", "spare parts"): match each text once.
        self._text_cache: dict[str, list[tuple[GoodsSpec, str, str, float]]] = {}

    def match_goods(self, line: Goods, position: int) -> list[GoodsHit]:
        """Matches of one goods line, with partial ("ex") codes confirmed or not by the same line."""
        hits: list[GoodsHit] = []
        prefix = f"goods[{position}]"
        if line.hs_code:
            digits = digits_only(line.hs_code)
            for depth in self._depths:
                if len(digits) < depth:
                    break
                for index, partial, listed in self._codes.get(digits[:depth], ()):
                    hits.append(GoodsHit(self.entries[index], f"{prefix}.hs_code", line.hs_code, listed,
                                         f"hs-prefix-{depth}", 1.0 if not partial else 0.7,
                                         confirmed=not partial))
        if line.description:
            hits.extend(self.match_text(line.description, f"{prefix}.description"))
        if line.part_number:
            part = line.part_number.strip()
            for index, pattern in self._part_numbers:
                if pattern.fullmatch(part):
                    hits.append(GoodsHit(self.entries[index], f"{prefix}.part_number", line.part_number,
                                         pattern.pattern, "part-number", 0.95))
        return _confirm_partial(hits)

    def match_text(self, text: str, field: str) -> list[GoodsHit]:
        """Keyword matches in free text (a goods description or the declared end use)."""
        found = self._text_cache.get(text)
        if found is None:
            found = self._match_text(text)
            if len(self._text_cache) < _TEXT_CACHE_SIZE:
                self._text_cache[text] = found
        return [GoodsHit(entry, field, text, matched, method, score) for entry, matched, method, score in found]

    def _match_text(self, text: str) -> list[tuple[GoodsSpec, str, str, float]]:
        arabic = is_arabic_script(text)
        words = [stem(w) for w in tokens(text)]
        hits: list[tuple[GoodsSpec, str, str, float]] = []
        cancelled: set[int] = set()
        for phrase in self._keywords.find(words, arabic):
            if phrase.entry in cancelled:
                continue
            excludes = self._excludes.get(phrase.entry)
            if excludes is not None and excludes.find(words, arabic):
                cancelled.add(phrase.entry)
                continue
            exact = " ".join(phrase.words) in " ".join(words)
            hits.append((self.entries[phrase.entry], phrase.text, "keyword" if exact else "keyword-fuzzy",
                         0.9 if exact else 0.8))
        return hits


def _confirm_partial(hits: list[GoodsHit]) -> list[GoodsHit]:
    """An "ex" code counts when another match on the line is of a category that corroborates it."""
    if all(hit.confirmed for hit in hits):
        return hits
    corroborating = {hit.entry.category for hit in hits if hit.method in {"keyword", "keyword-fuzzy",
                                                                          "part-number"}}
    out: list[GoodsHit] = []
    for hit in hits:
        if not hit.confirmed:
            wanted = set(hit.entry.corroborated_by or [hit.entry.category])
            if wanted & corroborating:
                hit = GoodsHit(hit.entry, hit.field, hit.value, hit.matched, f"{hit.method}-corroborated",
                               0.9, confirmed=True)
        out.append(hit)
    return out
