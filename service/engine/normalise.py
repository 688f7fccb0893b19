"""Text normalisation for matching: explicit, named steps that every matcher composes.

Steps, in order (see ``fold``):

1. Unicode NFKC, so presentation forms, full-width letters and ligatures become plain letters.
2. Transliteration of Cyrillic (Russian, Ukrainian) and Persian/Arabic script to Latin, *before* accents are
   stripped (otherwise й would lose its breve and become и).
3. Case folding and removal of accents (Ş -> s, é -> e).
4. Dotted initials written without spaces are joined (``S.A.`` -> ``sa``, ``K.D.P.`` -> ``kdp``; a person's
   ``R. A.`` stays two initials), every other punctuation mark is a
   space, and letters and digits are split apart (``Shahed136`` -> ``shahed 136``).

Persian writes no short vowels, so a transliteration alone never meets the listed Latin spelling
(صنایع -> ``snay`` against ``sanaye``). ``skeleton`` therefore reduces a Latin word to its consonant skeleton
with the usual transliteration alternatives merged (q/gh, kh/h, w/v dropped with the vowels); comparing
skeletons on both sides is what lets a Persian-script name meet its romanised listing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
    # Ukrainian, Belarusian, Kazakh letters that appear in addresses and names
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u", "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o",
    "ұ": "u", "ү": "u", "һ": "h",
}

# Persian and Arabic letters. Short vowels are not written, so none are invented here; ``skeleton`` does the
# comparison that makes that irrelevant. Alef and waw/yeh as long vowels are kept as vowels.
_ARABIC = {
    "ا": "a", "آ": "a", "أ": "a", "إ": "e", "ٱ": "a", "ب": "b", "پ": "p", "ت": "t", "ث": "s", "ج": "j",
    "چ": "ch", "ح": "h", "خ": "kh", "د": "d", "ذ": "z", "ر": "r", "ز": "z", "ژ": "zh", "س": "s", "ش": "sh",
    "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "q", "ک": "k", "ك": "k",
    "گ": "g", "ل": "l", "م": "m", "ن": "n", "و": "v", "ه": "h", "ة": "h", "ی": "y", "ي": "y", "ى": "a",
    "ئ": "y", "ؤ": "o", "ء": "", "\u200c": " ", "ـ": "",
    # harakat, in the rare texts that write them
    "\u064b": "", "\u064c": "", "\u064d": "", "\u064e": "a", "\u064f": "o", "\u0650": "e", "\u0651": "",
    "\u0652": "",
}

_DIGITS = {chr(0x06F0 + i): str(i) for i in range(10)} | {chr(0x0660 + i): str(i) for i in range(10)}

_SCRIPT_TABLE = str.maketrans(
    {**_CYRILLIC, **{k.upper(): v for k, v in _CYRILLIC.items()}, **_ARABIC, **_DIGITS,
     "«": " ", "»": " ", "„": " ", "“": " ", "”": " ", "‘": "", "’": "", "'": "", "`": "", "´": "",
     "ß": "ss", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ı": "i", "þ": "th", "œ": "oe"}
)

_INITIALS = re.compile(r"(?<![^\W_])((?:[^\W\d_]\.){2,})")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")


def transliterate(text: str) -> str:
    """Write Cyrillic and Persian/Arabic letters in Latin (a simplified BGN/PCGN-style romanisation)."""
    return text.translate(_SCRIPT_TABLE)


def strip_accents(text: str) -> str:
    """Remove combining marks after decomposition: é -> e, ş -> s."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _join_initials(match: re.Match[str]) -> str:
    return match.group(1).replace(".", "") + " "


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Steps 1-4 of the module docstring: a lower-case Latin string of words separated by single spaces."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = transliterate(text.casefold())
    text = strip_accents(text)
    text = _INITIALS.sub(_join_initials, text)
    text = _NON_ALNUM.sub(" ", text)
    text = _LETTER_DIGIT.sub(" ", text)
    return text.strip()


def tokens(text: str) -> list[str]:
    """The words of ``fold(text)``."""
    folded = fold(text)
    return folded.split() if folded else []


_SKELETON_DIGRAPHS = (("shch", "s"), ("kh", "h"), ("gh", "q"), ("ch", "c"), ("sh", "s"), ("zh", "j"),
                      ("ph", "f"), ("th", "t"), ("dh", "d"), ("ck", "k"), ("ts", "c"), ("x", "ks"))
_SKELETON_SINGLE = str.maketrans({"c": "k", "w": "", "v": "", "y": "", "a": "", "e": "", "i": "", "o": "",
                                  "u": "", "g": "k", "q": "k"})
_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=200_000)
def skeleton(word: str) -> str:
    """Consonant skeleton of a folded Latin word, merging transliteration alternatives.

    ``qods``, ``ghods`` and Persian قدس all give ``kds``; ``khiabani`` and خیابانی give ``hbn``; the velars
    g, k, q and c merge (Gim / Kim, Qasim / Kasim).
    """
    for digraph, single in _SKELETON_DIGRAPHS:
        word = word.replace(digraph, single)
    word = word.translate(_SKELETON_SINGLE)
    return _DOUBLED.sub(r"\1", word)


_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")


def is_arabic_script(text: str) -> bool:
    """Persian or Arabic letters present (vowels are then unwritten: compare skeletons)."""
    return _ARABIC_SCRIPT.search(text) is not None


def digits_only(text: str) -> str:
    """The digits of an identifier in any script (``IMO 9481910`` -> ``9481910``)."""
    return "".join(ch for ch in fold(text) if ch.isdigit())


def compact(text: str) -> str:
    """Letters and digits only, folded: for identifiers such as passport numbers (``V-475 287`` -> ``v475287``)."""
    return fold(text).replace(" ", "")
