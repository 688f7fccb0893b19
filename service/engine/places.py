"""Places: ports by LOCODE or by name in any script, address markers, and phrases in party names.

* **Ports** match by UN/LOCODE (``IR AMD``, ``IRAMD`` and ``ir-amd`` are the same code) or by any listed
  spelling appearing in the place name after transliteration (``Махачкала``, ``Port of Makhachkala``,
  ``بندر انزلی``). A name match is refused when the route point's own LOCODE or country says it is another
  place: the Persian Gulf's Amirabad (IR BAM) is not the Caspian port Bandar Amirabad.
* **Address markers** match when every term of one of their groups appears in an address, in any script
  (``ул. Ш-2`` and ``ul. Sh-2`` are the same words once transliterated).
* **Term sets** match a phrase inside a name, or the whole name for placeholder sets (``TBA``, ``unknown``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from service.engine.normalise import fold, is_arabic_script, skeleton, tokens
from service.rulepack.spec import AddressMarkerSpec, PortSpec, TermSetSpec


def normalise_locode(code: str | None) -> str | None:
    """``IR AMD`` / ``ir-amd`` -> ``IRAMD``; None when it cannot be a LOCODE."""
    if not code:
        return None
    text = "".join(ch for ch in code.upper() if ch.isalnum())
    return text if len(text) == 5 and text[:2].isalpha() else None


def contains_words(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` appears as consecutive words of ``haystack``."""
    size = len(needle)
    if size == 0 or size > len(haystack):
        return False
    first = needle[0]
    return any(haystack[i] == first and tuple(haystack[i:i + size]) == tuple(needle)
               for i in range(len(haystack) - size + 1))


@dataclass(frozen=True, slots=True)
class PortHit:
    port: PortSpec
    by: str  # "locode" or "name"
    matched: str


class PortIndex:
    """Listed ports, by LOCODE and by every spelling."""

    def __init__(self, ports: Sequence[PortSpec]) -> None:
        self.ports = list(ports)
        self._by_code: dict[str, int] = {}
        self._by_first: dict[str, list[tuple[int, tuple[str, ...], str]]] = defaultdict(list)
        self._by_skeleton: dict[str, list[tuple[int, tuple[str, ...], str]]] = defaultdict(list)
        for index, port in enumerate(self.ports):
            for code in port.locodes:
                self._by_code[code] = index
            for spelling in [port.name, *port.variants]:
                words = tuple(tokens(spelling))
                if words:
                    self._by_first[words[0]].append((index, words, spelling))
                    skel = tuple(skeleton(w) for w in words)
                    self._by_skeleton[skel[0]].append((index, skel, spelling))

    def by_locode(self, code: str | None) -> PortHit | None:
        normal = normalise_locode(code)
        if normal is None or normal not in self._by_code:
            return None
        port = self.ports[self._by_code[normal]]
        return PortHit(port, "locode", normal)

    def by_name(self, place: str, country: str | None, locode: str | None) -> PortHit | None:
        """The port named in ``place``, unless the point's country or LOCODE says otherwise."""
        words = tokens(place)
        code = normalise_locode(locode)
        arabic = is_arabic_script(place)
        candidates: list[tuple[int, tuple[str, ...], str, tuple[str, ...]]] = []
        for word in set(words):
            candidates.extend((i, w, s, tuple(words)) for i, w, s in self._by_first.get(word, ()))
        if arabic:
            skel_words = tuple(skeleton(w) for w in words)
            for word in set(skel_words):
                candidates.extend((i, w, s, skel_words) for i, w, s in self._by_skeleton.get(word, ()))
        for index, needle, spelling, haystack in sorted(candidates, key=lambda c: -len(c[1])):
            if not contains_words(haystack, needle):
                continue
            port = self.ports[index]
            if country is not None and country != port.country:
                continue
            if code is not None and port.locodes and code not in port.locodes:
                continue
            return PortHit(port, "name", spelling)
        return None


@dataclass(frozen=True, slots=True)
class MarkerHit:
    marker: AddressMarkerSpec
    matched: str


class MarkerIndex:
    """Address markers compiled to word groups."""

    def __init__(self, markers: Sequence[AddressMarkerSpec]) -> None:
        self.markers = [
            (marker, [[tuple(tokens(term)) for term in group] for group in marker.any_of]) for marker in markers
        ]

    def match(self, address: str) -> list[MarkerHit]:
        words = tokens(address)
        hits: list[MarkerHit] = []
        for marker, groups in self.markers:
            for group, spec_group in zip(groups, marker.any_of, strict=True):
                if all(contains_words(words, term) for term in group):
                    hits.append(MarkerHit(marker, " + ".join(spec_group)))
                    break
        return hits


class TermSets:
    """Term sets compiled for look-up: whole-name sets by folded text, the others by their first word."""

    def __init__(self, term_sets: dict[str, TermSetSpec]) -> None:
        self.sets = term_sets
        self._whole: dict[str, dict[str, str]] = {}
        self._by_first: dict[str, dict[str, list[tuple[tuple[str, ...], str]]]] = {}
        for key, spec in term_sets.items():
            if spec.whole_name:
                self._whole[key] = {" ".join(tokens(t)): t for t in spec.terms}
            else:
                index: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
                for term in spec.terms:
                    words = tuple(tokens(term))
                    if words:
                        index[words[0]].append((words, term))
                self._by_first[key] = index

    def find(self, set_id: str, text: str) -> str | None:
        """The first term of set ``set_id`` found in ``text`` (whole text for whole-name sets), or None."""
        if set_id in self._whole:
            return self._whole[set_id].get(fold(text))
        index = self._by_first[set_id]
        words = tokens(text)
        for start, word in enumerate(words):
            for term_words, term in index.get(word, ()):
                if tuple(words[start:start + len(term_words)]) == term_words:
                    return term
        return None
