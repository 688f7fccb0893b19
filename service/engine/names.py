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
ABBREVIATION_SIMILARITY = 0.8
SINGLE_WORD_CAP = 0.74
PARTICLE_CAP = 0.6
LATIN_SKELETON_SIMILARITY = 0.75

_PATRONYMIC_ENDINGS = ("ovich", "evich", "ovych", "evych", "ovna", "evna", "ichna", "yevich", "ievich",
                       "ievna", "yevna", "ogly", "oglu", "kyzy")


_VESSEL_PREFIXES = frozenset({"mv", "mt", "ms", "ss", "fv", "my", "sv", "rv", "lng", "lpg"})
_VESSEL_PREFIX_PAIRS = frozenset({("m", "v"), ("m", "t"), ("m", "s"), ("f", "v")})


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
    soft: tuple[bool, ...] = ()  # legal-form words and misspelt generic words: no evidence of another name
    dropped_stop_words: bool = False  # "Dos Santos" lost its "dos": it must not equal the alias SANTOS

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
    if vocabulary.word_class(word)[0]:
        # generic, a legal-form word left inside a name (the NPK of "OOO NPK AEROKON") or a misspelling of one
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
    if vessel and len(words) > 1:
        # "MV NAVARZ", "M/V FU YUAN YU 8685", "MT OLGA": the prefix says what the ship is, not its name.
        while len(words) > 1 and words[0] in _VESSEL_PREFIXES:
            words = words[1:]
        if len(words) > 2 and (words[0], words[1]) in _VESSEL_PREFIX_PAIRS:
            words = words[2:]
    expanded: list[str] = []
    for word in words:
        expanded.extend(vocabulary.abbreviations.get(word, (word,)))
    core, forms = _strip_legal_forms(expanded, vocabulary)
    kept = [w for w in core if w not in vocabulary.stop]
    dropped = bool(kept) and len(kept) < len(core)
    core = [vocabulary.name_variants.get(w, w) for w in (kept or core)]
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
        soft=tuple(vocabulary.word_class(w)[1] for w in core),
        dropped_stop_words=dropped,
    )


def word_similarity(a: str, b: str, skel_a: str, skel_b: str, arabic: bool) -> float:
    """Similarity of two words in 0..1: 1 for equal words, edit-distance similarity for typos and
    transliterations, consonant-skeleton equality for spellings without vowels; numbers must be equal.

    Short words need more: a word of four letters or fewer must be within one edit (JING is not JANG), and one
    of three letters or fewer must be equal but for its vowels (Oje / Ouj, Khin / Hin). A Persian word written
    without vowels meets its romanised form by skeleton, unless it is far shorter than that form.
    """
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    size_a = len(a)
    size_b = len(b)
    shortest = size_a if size_a < size_b else size_b
    if shortest == 1:
        return 0.6 if a[0] == b[0] else 0.0
    if skel_a != skel_b and (shortest <= 3 or 2 * shortest < 0.72 * (size_a + size_b)):
        # Without the skeleton, only an edit similarity of 0.72 counts, and neither measure can exceed
        # 2 * shortest / (both lengths): too different in length (or too short) to be a typo.
        return 0.0
    score = max(Indel.normalized_similarity(a, b), OSA.normalized_similarity(a, b))
    same_skeleton = skel_a == skel_b and (len(skel_a) >= 2 or (a[0] == b[0] and bool(skel_a)))
    if shortest <= 3 and score < 0.99:
        return 0.75 if same_skeleton else 0.0
    if shortest == 4:
        if score >= 0.8:
            return score
        # A vowel changed in a four-letter word (Qods / Quds) keeps three consonants; Olia / Olya keeps one.
        return (0.8 if len(skel_a) >= 3 else 0.75) if same_skeleton else 0.0
    if skel_a == skel_b and skel_a and (not arabic or shortest * 2 >= max(len(a), len(b))):
        # Without vowels (Persian) the skeleton is the only evidence there is; between two Latin spellings it
        # is a hint (Ghods / Qods), and a weaker one, since unrelated words share skeletons (Persian / Parisan).
        if arabic:
            score = max(score, 0.92 if len(skel_a) >= 3 else 0.85)
        elif len(skel_a) >= 2:
            score = max(score, LATIN_SKELETON_SIMILARITY)
    elif a[0] != b[0] and score < 0.95:
        # Names are rarely misspelt in their first letter: MASON is not JASON.
        score -= 0.08
    return score if score >= 0.72 else 0.0


def is_abbreviation(short: str, long: str) -> bool:
    """``short`` abbreviates ``long``: a prefix of it (GEN. / GENERAL, PETR / PETROLEUM) or its first and last
    letters with some of the letters between, in order (COML / COMMERCIAL, TRDG / TRADING, FDN / FOUNDATION)."""
    if len(short) < 3 or len(long) < len(short) + 2 or short[0] != long[0] or short.isdigit():
        return False
    if long.startswith(short):
        return True
    if short[-1] != long[-1] and len(short) < 5:
        return False
    position = 0
    for letter in short:
        position = long.find(letter, position)
        if position < 0:
            return False
        position += 1
    return True


@dataclass(frozen=True, slots=True)
class NameComparison:
    score: float
    method: str
    one_word: bool = False  # the query is one word against a listed name of several distinctive words


def compare_names(query: NameKey, listed: NameKey) -> NameComparison:
    """Score how well ``query`` matches ``listed`` (0..1) and say how (see the module docstring)."""
    if query.folded == listed.folded:
        return NameComparison(1.0, "name-exact")
    q_tokens = query.tokens
    l_tokens = listed.tokens
    if len(q_tokens) == 1 == len(l_tokens) and query.dropped_stop_words != listed.dropped_stop_words:
        # "Dos Santos" is a surname with its particle; with one word left the particle is half the name, and the
        # bare word (SANTOS), or one like it (SANTOSO), names someone else.
        similar = word_similarity(q_tokens[0], l_tokens[0], query.skeletons[0], listed.skeletons[0],
                                  query.arabic or listed.arabic)
        return NameComparison(min(similar, PARTICLE_CAP), "name-fuzzy")
    if q_tokens == l_tokens:
        return NameComparison(0.98, "name-normalised")
    if query.sorted_tokens == listed.sorted_tokens:
        return NameComparison(0.96, "name-reordered")

    q_weights = query.weights
    l_weights = listed.weights
    arabic = query.arabic or listed.arabic
    l_range = range(len(l_tokens))
    l_skeletons = listed.skeletons
    pairs: list[tuple[float, int, int]] = []
    for i, (qa, qs) in enumerate(zip(q_tokens, query.skeletons, strict=True)):
        for j in l_range:
            la = l_tokens[j]
            sim = 1.0 if qa == la else word_similarity(qa, la, qs, l_skeletons[j], arabic)
            if sim > 0.0:
                pairs.append((sim, i, j))
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched_q = matched_l = 0.0
    distinctive_hit = False
    # First, a word of one name written as two words in the other ("AIRCRAFT" / "AIR CRAFT").
    if (len(q_tokens) >= 2 and any(len(w) >= 6 for w in l_tokens)) or (
            len(l_tokens) >= 2 and any(len(w) >= 6 for w in q_tokens)):
        close_q = {i for sim, i, _ in pairs if sim >= 0.9}
        close_l = {j for sim, _, j in pairs if sim >= 0.9}
        for short, long, used_short, used_long, short_is_query, close in (
                (query, listed, used_q, used_l, True, close_l), (listed, query, used_l, used_q, False, close_q)):
            short_tokens = short.tokens
            if len(short_tokens) < 2:
                continue
            for i, word in enumerate(long.tokens):
                size = len(word)
                if size < 6 or i in used_long or i in close:
                    continue
                for j in range(len(short_tokens) - 1):
                    if j in used_short or j + 1 in used_short:
                        continue
                    pair_text = short_tokens[j] + short_tokens[j + 1]
                    # a similarity of 0.9 needs lengths within a ninth of each other
                    if 2 * min(size, len(pair_text)) < 0.9 * (size + len(pair_text)):
                        continue
                    if Indel.normalized_similarity(word, pair_text) >= 0.9:
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
        matched_q += q_weights[i] * sim
        matched_l += l_weights[j] * sim
        if sim >= 0.8 and l_weights[j] >= 1.0 and q_weights[i] >= GIVEN_NAME_WEIGHT:
            distinctive_hit = True
    # Abbreviated words left over (INTL, COML, TRDG, PETR): credit them at a listed word they abbreviate.
    if len(used_q) < len(q_tokens) and len(used_l) < len(l_tokens):
        for i, word in enumerate(q_tokens):
            if i in used_q:
                continue
            for j, other in enumerate(l_tokens):
                if j in used_l:
                    continue
                if is_abbreviation(word, other) or is_abbreviation(other, word):
                    used_q.add(i)
                    used_l.add(j)
                    chosen.append((ABBREVIATION_SIMILARITY, i, j))
                    weight = min(q_weights[i], l_weights[j])
                    matched_q += weight * ABBREVIATION_SIMILARITY
                    matched_l += l_weights[j] * ABBREVIATION_SIMILARITY
                    if weight < q_weights[i]:
                        # The query's abbreviation weighs what the word it stands for weighs.
                        matched_q += q_weights[i] - weight
                    distinctive_hit = distinctive_hit or l_weights[j] >= 1.0
                    break
    cross_script = query.arabic != listed.arabic
    if cross_script and query.distinctive and listed.distinctive:
        # Across scripts, generic words are translated (گروه = group), not transliterated: only the
        # distinctive words can be compared, so only they count.
        matched_q = matched_l = sum(sim for sim, i, j in chosen
                                    if q_weights[i] >= 1.0 and l_weights[j] >= 1.0)
        total_q = float(len(query.distinctive))
        total_l = float(len(listed.distinctive))
    else:
        # An unexplained word of the query says "another company" more loudly than a generic weight allows.
        soft = query.soft
        total_q = 0.0
        for i, w in enumerate(q_weights):
            total_q += w if i in used_q or soft[i] or w >= UNMATCHED_QUERY_WEIGHT else UNMATCHED_QUERY_WEIGHT
        total_l = sum(l_weights) or 1.0
    cover_q = matched_q / (total_q or 1.0)
    cover_l = matched_l / total_l
    score = 0.6 * cover_q + 0.4 * cover_l
    method = "name-fuzzy"

    # Words split or run together across the whole name defeat word alignment; compare the letters.
    if (len(q_tokens) != len(l_tokens) and _same_numbers(query, listed)
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
    if cross_script and sum(1 for sim, i, j in chosen if sim >= 0.8 and l_weights[j] >= 1.0) < 2:
        # One word meeting its romanisation only by consonant skeleton happens by chance (ظفری / ZEPHYR).
        score = min(score, SINGLE_WORD_CAP)
    one_word = False
    if len(l_tokens) >= 2:
        strong = 0
        for w in q_weights:
            if w >= GIVEN_NAME_WEIGHT:
                strong += 1
        one_word = strong == 1 and len(listed.distinctive) >= 2
    return NameComparison(min(score, 0.97), method, one_word)


def _same_numbers(a: NameKey, b: NameKey) -> bool:
    return a.numbers == b.numbers


def initials(key: NameKey) -> str:
    """First letters of the name's words (``Islamic Republic of Iran Shipping Lines`` -> ``irisl``)."""
    return "".join(word[0] for word in key.tokens)
