"""The party name index: which listed names it hands to the full comparison, and in what order.

Fixture strategy: small made-up lists built in each test (no pack on disk); names are drawn from a seeded
generator where a test needs many, so that the expected sets can be worked out by brute force.
"""

from __future__ import annotations

import random

import pytest

from service.engine.names import analyse_name, compare_names
from service.engine.parties import CANDIDATES, ListedEntry, NameIndex
from service.engine.reference import NameWords, name_words
from service.rulepack.spec import EntryType, PartySpec

FLOOR = 0.7


@pytest.fixture(scope="module")
def words() -> NameWords:
    return name_words()


def index_of(names: list[str], words: NameWords, kind: EntryType = EntryType.organization) -> NameIndex:
    specs = [ListedEntry(PartySpec(id=f"e{i}", type=kind, name=name, sources=["test"]), "test", frozenset())
             for i, name in enumerate(names)]
    return NameIndex(specs, words)


def made_up_word(rng: random.Random) -> str:
    syllables = ["ka", "lo", "mir", "van", "tes", "dru", "pel", "zor", "nia", "bek", "sul", "gra", "tho", "wen"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()


def test_a_name_of_the_query_alone_outranks_longer_names_holding_it(words: NameWords) -> None:
    # Every longer name holds the query's one word, so all score 100 on the word sets; the name that is the
    # query and nothing else must still be among the few compared in full, wherever it sits in the list.
    names = [f"Zenitra {suffix}" for suffix in ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf",
                                                "Hotel", "India", "Juliett")] + ["Zenitra"]
    index = index_of(names, words)
    found = [index.names[n].text for n in index.candidates(analyse_name("ZENITRA", words), FLOOR)]
    assert len(found) == CANDIDATES
    assert found[0] == "Zenitra"


def test_names_sharing_both_words_of_the_query_are_found_among_common_words(words: NameWords) -> None:
    # Both query words are common (each in hundreds of names): the names holding both must all be found, and
    # the hundreds holding one of them beside another word (which cannot score the floor) must not be.
    rng = random.Random(3)
    names = [f"Kalomir {made_up_word(rng)}" for _ in range(300)] + [f"Vantesdru {made_up_word(rng)}"
                                                                    for _ in range(300)]
    names += ["Kalomir Vantesdru", "Vantesdru Kalomir Pelzor", "Pelzor Kalomir Vantesdru Sulbek"]
    index = index_of(names, words)
    found = {index.names[n].text for n in index.candidates(analyse_name("Kalomir Vantesdru", words), FLOOR,
                                                            limit=10_000)}
    assert found == {"Kalomir Vantesdru", "Vantesdru Kalomir Pelzor", "Pelzor Kalomir Vantesdru Sulbek"}


def test_a_listed_name_is_found_from_its_variants(words: NameWords) -> None:
    # A query that drops, reorders, misspells (one letter) or adds a word of a listed name reaches that name
    # whenever the full comparison would report it.
    rng = random.Random(11)
    vocabulary = [made_up_word(rng) for _ in range(60)]
    names = sorted({" ".join(rng.sample(vocabulary, rng.randint(1, 4))) for _ in range(400)})
    index = index_of(names, words)
    compared = 0
    for _ in range(300):
        source = rng.randrange(len(names))
        query_words = names[source].split()
        edit = rng.choice(["drop", "reorder", "typo", "add"])
        if edit == "drop" and len(query_words) > 1:
            query_words.pop(rng.randrange(len(query_words)))
        elif edit == "reorder":
            rng.shuffle(query_words)
        elif edit == "typo":
            position = rng.randrange(len(query_words))
            word = query_words[position]
            at = rng.randrange(1, len(word))
            query_words[position] = word[:at] + rng.choice("aeioukrt") + word[at + 1:]
        else:
            query_words.append(rng.choice(vocabulary))
        key = analyse_name(" ".join(query_words), words)
        if compare_names(key, index.names[source].key).score < FLOOR:
            continue
        compared += 1
        assert source in index.candidates(key, FLOOR, limit=len(names)), (" ".join(query_words), names[source])
    assert compared > 200


def test_candidates_are_capped_and_the_exact_name_is_compared(words: NameWords) -> None:
    rng = random.Random(5)
    names = [f"Grathowen {made_up_word(rng)} {made_up_word(rng)}" for _ in range(200)] + ["Grathowen Sulbek"]
    index = index_of(names, words)
    key = analyse_name("Grathowen Sulbek", words)
    found = index.candidates(key, FLOOR)
    assert len(found) <= CANDIDATES
    assert index.match(key, FLOOR)[0].matched == "Grathowen Sulbek"
    assert index.names[found[0]].text == "Grathowen Sulbek"
