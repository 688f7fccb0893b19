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
UNMATCHED_QUERY_WEIGHT = 0.5

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
    sorted_tokens: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

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


def _weight(word: str, vocabulary: NameWords, vessel: bool) -> float:
    if vessel and (len(word) == 1 or word.isdigit()):
        return 1.0
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


def analyse_name(text: str, vocabulary: NameWords, vessel: bool = False) -> NameKey:
    """Prepare ``text`` for comparison: words, legal forms, weights and skeletons.

    In a vessel's name single letters and numbers identify the ship (LADY D is not LADY R, PORT OLYA-1 is not
    PORT OLYA-2), so with ``vessel`` they weigh fully and must be equal.
    """
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
        weights=tuple(_weight(w, vocabulary, vessel) for w in core),
        skeletons=tuple(skeleton(w) for w in core),
        legal_forms=frozenset(forms),
        arabic=is_arabic_script(text),
        sorted_tokens=tuple(sorted(core)),
        numbers=tuple(sorted(w for w in core if w.isdigit() or (vessel and len(w) == 1))),
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
        # Short words must be equal, but for vowel-only differences of a transliteration (Oje / Ouj / Owj).
        score = 0.75 if skel_a and skel_a == skel_b and a[0] == b[0] else 0.0
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
    if query.sorted_tokens == listed.sorted_tokens:
        return NameComparison(0.96, "name-reordered")

    arabic = query.arabic or listed.arabic
    pairs: list[tuple[float, int, int]] = []
    for i, (qa, qs) in enumerate(zip(query.tokens, query.skeletons, strict=True)):
        for j, (la, ls) in enumerate(zip(listed.tokens, listed.skeletons, strict=True)):
            sim = word_similarity(qa, la, qs, ls, arabic)
            if sim > 0.0:
                pairs.append((sim, i, j))
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched_q = matched_l = 0.0
    distinctive_hit = False
    # First, a word of one name written as two words in the other ("AIRCRAFT" / "AIR CRAFT").
    close_q = {i for sim, i, _ in pairs if sim >= 0.9}
    close_l = {j for sim, _, j in pairs if sim >= 0.9}
    for short, long, used_short, used_long, short_is_query, close in (
        (query, listed, used_q, used_l, True, close_l), (listed, query, used_l, used_q, False, close_q)):
        if len(short.tokens) < 2:
            continue
        for i, word in enumerate(long.tokens):
            if i in used_long or i in close or len(word) < 6:
                continue
            for j in range(len(short.tokens) - 1):
                if j in used_short or j + 1 in used_short:
                    continue
                if Indel.normalized_similarity(word, short.tokens[j] + short.tokens[j + 1]) >= 0.9:
                    used_long.add(i)
                    used_short.update((j, j + 1))
                    pair_weight = short.weights[j] + short.weights[j + 1]
                    if short_is_query:
                        matched_q += pair_weight
                        matched_l += long.weights[i]
                    else:
                        matched_l += pair_weight
                        matched_q += long.weights[i]
                    distinctive_hit = distinctive_hit or long.weights[i] >= 1.0
                    break
    pairs.sort(reverse=True)
    chosen: list[tuple[float, int, int]] = []
    for sim, i, j in pairs:
        if i in used_q or j in used_l:
            continue
        chosen.append((sim, i, j))
        used_q.add(i)
        used_l.add(j)
        matched_q += query.weights[i] * sim
        matched_l += listed.weights[j] * sim
        if sim >= 0.8 and listed.weights[j] >= 1.0 and query.weights[i] >= GIVEN_NAME_WEIGHT:
            distinctive_hit = True
    if query.arabic != listed.arabic and query.distinctive and listed.distinctive:
        # Across scripts, generic words are translated (گروه = group), not transliterated: only the
        # distinctive words can be compared, so only they count.
        matched_q = matched_l = sum(sim for sim, i, j in chosen
                                    if query.weights[i] >= 1.0 and listed.weights[j] >= 1.0)
        total_q = float(len(query.distinctive))
        total_l = float(len(listed.distinctive))
    else:
        # An unexplained word of the query says "another company" more loudly than a generic weight allows.
        total_q = sum(w if i in used_q else max(w, UNMATCHED_QUERY_WEIGHT) for i, w in enumerate(query.weights))
        total_l = sum(listed.weights) or 1.0
    cover_q = matched_q / (total_q or 1.0)
    cover_l = matched_l / total_l
    score = 0.6 * cover_q + 0.4 * cover_l
    method = "name-fuzzy"

    # Words split or run together across the whole name defeat word alignment; compare the letters.
    if (len(query.tokens) != len(listed.tokens) and _same_numbers(query, listed)
            and abs(len(query.joined) - len(listed.joined)) <= 2):
        joined = Indel.normalized_similarity(query.joined, listed.joined)
        if joined >= 0.9 and joined * 0.97 > score:
            score = joined * 0.97
            method = "name-joined"
            distinctive_hit = True

    if not distinctive_hit:
        # Only generic words, given names or initials agree: thousands of unrelated names do that.
        score = min(score, 0.6)
    if not _same_numbers(query, listed):
        # PORT OLYA-1 is not PORT OLYA-2: numbers in names identify.
        score = min(score, 0.6)
    return NameComparison(min(score, 0.97), method)


def _same_numbers(a: NameKey, b: NameKey) -> bool:
    return a.numbers == b.numbers


def initials(key: NameKey) -> str:
    """First letters of the name's words (``Islamic Republic of Iran Shipping Lines`` -> ``irisl``)."""
    return "".join(word[0] for word in key.tokens)
