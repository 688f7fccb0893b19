"""Reference data the matchers share: countries, legal forms, generic words, abbreviations, name variants.

The YAML files under ``service/engine/data/`` are the source of truth (as in rigour); this module reads them
once into plain lookup tables. They are data about language, not about sanctions, so they live with the engine
and not in a rule pack.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from service.engine.normalise import fold, tokens


def _read(name: str) -> dict[str, Any]:
    text = resources.files("service.engine").joinpath("data", name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"service/engine/data/{name}: expected a mapping at the top")
    return data


@dataclass(frozen=True)
class Country:
    code: str
    alpha3: str
    name: str


@dataclass
class CountryTable:
    """Resolves a country written as ISO alpha-2, alpha-3 or a name in many languages to alpha-2."""

    by_key: dict[str, str] = field(default_factory=dict)
    by_script: dict[str, str] = field(default_factory=dict)
    countries: dict[str, Country] = field(default_factory=dict)

    def resolve(self, text: str | None) -> str | None:
        """ISO alpha-2 code for ``text``, or None when it names no known country."""
        if not text:
            return None
        raw = text.strip()
        if len(raw) == 2 and raw.isascii() and raw.isalpha():
            upper = raw.upper()
            if upper in self.countries:
                return upper
            if upper == "UK":
                return "GB"
        folded = fold(raw)
        if folded:
            return self.by_key.get(folded)
        # Chinese and Japanese names have no Latin letters at all once folded; look them up as written.
        return self.by_script.get(_script_key(raw))

    def name(self, code: str) -> str:
        country = self.countries.get(code)
        return country.name if country else code


def _script_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@cache
def country_table() -> CountryTable:
    table = CountryTable()
    for row in _read("countries.yaml")["countries"]:
        code = str(row["code"]).upper()
        names = [str(n) for n in row.get("names", [])]
        table.countries[code] = Country(code=code, alpha3=str(row["alpha3"]).upper(),
                                        name=names[0] if names else code)
        for key in [row["alpha3"], *names]:
            folded = fold(str(key))
            if folded:
                table.by_key.setdefault(folded, code)
            else:
                table.by_script.setdefault(_script_key(str(key)), code)
        # alpha-2 written in lower case or with dots ("u.s.") are common in exports too
        table.by_key.setdefault(code.lower(), code)
    return table


@dataclass(frozen=True)
class LegalForm:
    canonical: str
    tokens: tuple[str, ...]
    edge_only: bool


@dataclass
class NameWords:
    """Word classes used when comparing names."""

    legal_forms: list[LegalForm]
    legal_form_first_tokens: dict[str, list[LegalForm]]
    generic: frozenset[str]
    stop: frozenset[str]
    abbreviations: dict[str, tuple[str, ...]]
    name_variants: dict[str, str]
    generic_deletions: frozenset[str] = frozenset()
    generic_known: frozenset[str] = frozenset()
    legal_form_words: frozenset[str] = frozenset()
    legal_form_deletions: frozenset[str] = frozenset()

    _word_cache: dict[str, tuple[bool, bool]] = field(default_factory=dict)

    def word_class(self, word: str) -> tuple[bool, bool]:
        """(generic-like, legal-form word) for ``word``, remembered: names share most of their words.

        Generic-like: a generic word, a legal-form word left inside a name (the NPK of "OOO NPK AEROKON"), or
        one typo away from either (HOLDNGS). Legal-form word: a legal-form word or one typo away from one
        (LIKMITED, SUTOCK), which says nothing about which company a name is.
        """
        known = self._word_cache.get(word)
        if known is not None:
            return known
        generic_like = word in self.generic_known
        legal = word in self.legal_form_words
        if len(word) >= 5 and not word.isdigit() and not (generic_like and legal):
            deletions = {word[:i] + word[i + 1:] for i in range(len(word))}
            if len(word) >= 6:
                generic_like = generic_like or word in self.generic_deletions or not deletions.isdisjoint(
                    self.generic_deletions) or not deletions.isdisjoint(self.generic_known)
            legal = legal or word in self.legal_form_deletions or not deletions.isdisjoint(
                self.legal_form_deletions) or not deletions.isdisjoint(self.legal_form_words)
        known = (generic_like, legal)
        if len(self._word_cache) < 500_000:
            self._word_cache[word] = known
        return known

    def is_legal_form_word(self, word: str) -> bool:
        """A legal-form word, or one typo away from one (LIKMITED, SUTOCK)."""
        return self.word_class(word)[1]

    def is_misspelt_generic(self, word: str) -> bool:
        """A generic word or legal form, or one typo away from one (HOLDNGS)."""
        return self.word_class(word)[0]


@cache
def name_words() -> NameWords:
    forms: list[LegalForm] = []
    for row in _read("legal_forms.yaml")["legal_forms"]:
        edge_only = bool(row.get("ambiguous")) or row.get("position") == "edge"
        for variant in row.get("variants", []):
            toks = tuple(tokens(str(variant)))
            if toks:
                forms.append(LegalForm(canonical=str(row["canonical"]), tokens=toks,
                                       edge_only=edge_only or (len(toks) == 1 and len(toks[0]) <= 2)))
    # Longest phrase first, so "limited liability company" wins over "company".
    forms.sort(key=lambda form: -len(form.tokens))
    by_first: dict[str, list[LegalForm]] = {}
    for form in forms:
        by_first.setdefault(form.tokens[0], []).append(form)

    words = _read("name_words.yaml")
    generic = frozenset(t for w in words.get("generic", []) for t in tokens(str(w)))
    stop = frozenset(t for w in words.get("stop", []) for t in tokens(str(w)))
    abbreviations: dict[str, tuple[str, ...]] = {}
    for short, full in (words.get("abbreviations") or {}).items():
        short_tokens = tokens(str(short))
        if len(short_tokens) == 1:
            abbreviations[short_tokens[0]] = tuple(tokens(str(full)))
    variants: dict[str, str] = {}
    for group in words.get("given_name_variants", []):
        spelled = [t for t in (fold(str(g)) for g in group) if t and " " not in t]
        if spelled:
            canonical = spelled[0]
            for spelling in spelled:
                variants.setdefault(spelling, canonical)
    form_words = frozenset(t for form in forms for t in form.tokens if len(t) >= 2)
    known = generic | form_words
    deletions = frozenset(word[:i] + word[i + 1:] for word in known if len(word) >= 5 for i in range(len(word)))
    return NameWords(legal_forms=forms, legal_form_first_tokens=by_first, generic=generic, stop=stop,
                     abbreviations=abbreviations, name_variants=variants, generic_deletions=deletions,
                     generic_known=frozenset(known), legal_form_words=form_words,
                     legal_form_deletions=frozenset(w[:i] + w[i + 1:] for w in form_words if len(w) >= 5
                                                    for i in range(len(w))))
