"""How two names are compared.

A name is first *analysed* into a ``NameKey``: its words after normalisation, with legal forms (OOO, LLC,
GmbH, Sherkat...) taken out and remembered separately, abbreviations written out (Intl -> international),
spelling variants of common given names merged (Mohammed -> mohammad), and each word given a weight: words that
many unrelated companies share ("trading", "group", "industries") and patronymics weigh little, so that they
cannot carry a match on their own.

``compare_names`` then aligns the words of the two names regardless of their order, scoring each pair of words
by edit distance and, for transliterations, by consonant skeleton. The score says how much of the *query* is
explained by the listed name (most important: an extra distinctive word means another company) and how much of
the listed name is found in the query (a dropped word lowers the score less). Identical names score 1.0; merely
similar names stay below it, so that scores rank.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import OSA, Indel

from service.engine.normalise import fold, is_arabic_script, skeleton, tokens
from service.engine.reference import NameWords

GENERIC_WEIGHT = 0.25
PATRONYMIC_WEIGHT = 0.35
GIVEN_NAME_WEIGHT = 0.5
INITIAL_WEIGHT = 0.3
SHORT_WEIGHT = 0.6

_PATRONYMIC_ENDINGS = ("ovich", "evich", "ovych", "evych", "ovna", "evna", "ichna", "yevich", "ievich",
                       "ievna", "yevna", "ogly", "oglu", "kyzy")


@dataclass(frozen=True, slots=True)
class NameKey:
    """A name prepared for comparison (see the module docstring)."""

    text: str
    folded: str
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    skeletons: tuple[str, ...]
    legal_forms: frozenset[str]
    arabic: bool

    @property
    def distinctive(self) -> tuple[str, ...]:
        """Words that identify the name (full weight)."""
        return tuple(t for t, w in zip(self.tokens, self.weights, strict=True) if w >= 1.0)

    @property
    def joined(self) -> str:
        return "".join(self.tokens)


def _strip_legal_forms(words: list[str], vocabulary: NameWords) -> tuple[list[str], set[str]]:
    found: set[str] = set()
    kept: list[str] = []
    i = 0
    n = len(words)
    while i < n:
        matched = False
        for form in vocabulary.legal_form_first_tokens.get(words[i], ()):
            size = len(form.tokens)
            if tuple(words[i:i + size]) != form.tokens:
                continue
            at_edge = i == 0 or i + size == n
            if form.edge_only and not at_edge:
                continue
            found.add(form.canonical)
            i += size
            matched = True
            break
        if not matched:
            kept.append(words[i])
            i += 1
    if not kept:  # a name made only of legal-form words keeps them as its name
        return words, set()
    return kept, found


def _weight(word: str, vocabulary: NameWords) -> float:
    if word in vocabulary.generic:
        return GENERIC_WEIGHT
    if len(word) == 1:
        return INITIAL_WEIGHT
    if word.endswith(_PATRONYMIC_ENDINGS) and len(word) > 6:
        return PATRONYMIC_WEIGHT
    if word in vocabulary.name_variants:
        return GIVEN_NAME_WEIGHT
    if len(word) == 2 and not word.isdigit():
        return SHORT_WEIGHT
    return 1.0


def analyse_name(text: str, vocabulary: NameWords) -> NameKey:
    """Prepare ``text`` for comparison: words, legal forms, weights and skeletons."""
    words = tokens(text)
    expanded: list[str] = []
    for word in words:
        expanded.extend(vocabulary.abbreviations.get(word, (word,)))
    core, forms = _strip_legal_forms(expanded, vocabulary)
    core = [vocabulary.name_variants.get(w, w) for w in core if w not in vocabulary.stop] or core
    return NameKey(
        text=text,
        folded=fold(text),
        tokens=tuple(core),
        weights=tuple(_weight(w, vocabulary) for w in core),
        skeletons=tuple(skeleton(w) for w in core),
        legal_forms=frozenset(forms),
        arabic=is_arabic_script(text),
    )


def word_similarity(a: str, b: str, skel_a: str, skel_b: str, arabic: bool) -> float:
    """Similarity of two words in 0..1: 1 for equal words, edit-distance similarity for typos and
    transliterations, consonant-skeleton equality for spellings without vowels; numbers must be equal."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    shortest = min(len(a), len(b))
    if shortest == 1:
        return 0.6 if a[0] == b[0] else 0.0
    score = max(Indel.normalized_similarity(a, b), OSA.normalized_similarity(a, b))
    if shortest <= 3 and score < 0.99:
        score = 0.0
    if skel_a == skel_b and skel_a:
        if len(skel_a) >= 3:
            score = max(score, 0.92)
        elif arabic or (len(skel_a) == 2 and shortest >= 4):
            score = max(score, 0.85)
    return score if score >= 0.72 else 0.0


@dataclass(frozen=True, slots=True)
class NameComparison:
    score: float
    method: str


def compare_names(query: NameKey, listed: NameKey) -> NameComparison:
    """Score how well ``query`` matches ``listed`` (0..1) and say how (see the module docstring)."""
    if query.folded == listed.folded:
        return NameComparison(1.0, "name-exact")
    if query.tokens == listed.tokens:
        return NameComparison(0.98, "name-normalised")
    if sorted(query.tokens) == sorted(listed.tokens):
        return NameComparison(0.96, "name-reordered")

    arabic = query.arabic or listed.arabic
    pairs: list[tuple[float, int, int]] = []
    for i, (qa, qs) in enumerate(zip(query.tokens, query.skeletons, strict=True)):
        for j, (la, ls) in enumerate(zip(listed.tokens, listed.skeletons, strict=True)):
            sim = word_similarity(qa, la, qs, ls, arabic)
            if sim > 0.0:
                pairs.append((sim, i, j))
    pairs.sort(reverse=True)
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched_q = matched_l = 0.0
    distinctive_hit = False
    for sim, i, j in pairs:
        if i in used_q or j in used_l:
            continue
        used_q.add(i)
        used_l.add(j)
        matched_q += query.weights[i] * sim
        matched_l += listed.weights[j] * sim
        if sim >= 0.8 and listed.weights[j] >= 1.0 and query.weights[i] >= GIVEN_NAME_WEIGHT:
            distinctive_hit = True
    total_q = sum(query.weights) or 1.0
    total_l = sum(listed.weights) or 1.0
    cover_q = matched_q / total_q
    cover_l = matched_l / total_l
    score = 0.6 * cover_q + 0.4 * cover_l
    method = "name-fuzzy"

    # Words split or run together ("AIR CRAFT" / "AIRCRAFT") defeat word alignment; compare the letters.
    if len(query.tokens) != len(listed.tokens) and _same_numbers(query, listed):
        joined = Indel.normalized_similarity(query.joined, listed.joined)
        if joined >= 0.9 and joined * 0.97 > score:
            score = joined * 0.97
            method = "name-joined"
            distinctive_hit = True

    if not distinctive_hit and listed.distinctive:
        # Only generic words, given names or initials agree: thousands of unrelated names do that.
        score = min(score, 0.6)
    return NameComparison(min(score, 0.97), method)


def _same_numbers(a: NameKey, b: NameKey) -> bool:
    return sorted(t for t in a.tokens if t.isdigit()) == sorted(t for t in b.tokens if t.isdigit())


def initials(key: NameKey) -> str:
    """First letters of the name's words (``Islamic Republic of Iran Shipping Lines`` -> ``irisl``)."""
    return "".join(word[0] for word in key.tokens)
