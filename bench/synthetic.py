"""Deterministic synthetic records and party entries for benchmarks (no real names, no eval data)."""

from __future__ import annotations

import itertools
import random
from typing import Any

from service.rulepack.spec import PartySpec

# A large syllable inventory, so made-up names are as varied as real ones (a small one makes every name a
# near-neighbour of every other and measures a worst case no real list has).
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "kh", "br", "tr", "st",
           "gr", "dr", "ch", "bl", "pl", "kr", "fr", "sk", "sl", "sm", "sn", "sp", "sv", "th", "ts", "zh", "dz",
           "h", "j", "w", "y", "gl", "kl", "pr", "vr", "zd", "mn"]
_VOWELS = ["a", "e", "i", "o", "u", "ia", "ou", "ei", "ai", "au", "ie", "oa", "ue", "y", "io"]
_CODAS = ["", "", "", "n", "r", "s", "k", "l", "m", "t", "v", "nd", "rt", "st", "ng", "x", "sk", "lm", "rn"]
_GENERIC = ["trading", "group", "industries", "logistics", "holding", "engineering", "technologies", "services",
            "import export", "manufacturing", "systems", "international"]
_FORMS = ["LLC", "Ltd", "GmbH", "OOO", "JSC", "Co., Ltd.", "S.A.", "FZE", "Sdn Bhd", "AB", "Inc.", "B.V."]
_COUNTRIES = ["DE", "FR", "IT", "NL", "PL", "CZ", "US", "CA", "GB", "JP", "KR", "CN", "IN", "TR", "AE", "BR", "MX",
              "ES", "SE", "AU", "RU", "KZ", "GE", "AM", "IR"]
_GOODS = [("plastic garden furniture", "9403.70"), ("cotton t-shirts", "6109.10"), ("ball bearings", "8482.10"),
          ("microcontrollers", "8542.31"), ("wooden doors", "4418.20"), ("car tyres", "4011.10"),
          ("olive oil", "1509.20"), ("GNSS receiver module", "8526.91"), ("printed circuit boards", "8534.00"),
          ("coffee machines", "8516.71"), ("steel pipes", "7304.19"), ("CNC lathe", "8458.11"),
          ("laptop computers", "8471.30"), ("ceramic tiles", "6907.21"), ("fresh apples", "0808.10")]
_PORTS = [("Hamburg", "DE", "DEHAM"), ("Rotterdam", "NL", "NLRTM"), ("Shanghai", "CN", "CNSHA"),
          ("Jebel Ali", "AE", "AEJEA"), ("Mersin", "TR", "TRMER"), ("Novorossiysk", "RU", "RUNVS"),
          ("Aktau", "KZ", "KZAAU"), ("Baku", "AZ", "AZBAK"), ("Busan", "KR", "KRPUS"), ("Santos", "BR", "BRSSZ")]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3))) + rng.choice(_CODAS)


class Vocabulary:
    """Made-up words drawn with a long-tailed (Zipf-like) frequency, as words recur across real company and
    person names: most names are new combinations, but their words have been seen before."""

    def __init__(self, size: int, seed: int) -> None:
        rng = random.Random(seed)
        self.words = [word(rng).capitalize() for _ in range(size)]
        self.weights = [1.0 / (rank + 10) for rank in range(size)]
        # choices() would add the weights up on every call (30,000 of them); the same draws, precomputed
        self.cum_weights = list(itertools.accumulate(self.weights))

    def pick(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=count)


_VOCABULARY: dict[int, Vocabulary] = {}


def vocabulary(seed: int = 5, size: int = 30_000) -> Vocabulary:
    if seed not in _VOCABULARY:
        _VOCABULARY[seed] = Vocabulary(size, seed)
    return _VOCABULARY[seed]


def company_name(rng: random.Random) -> str:
    words = vocabulary().pick(rng, rng.randint(1, 3))
    if rng.random() < 0.5:
        words.append(rng.choice(_GENERIC).title())
    return " ".join(words) + " " + rng.choice(_FORMS)


def person_name(rng: random.Random) -> str:
    given, family = vocabulary().pick(rng, 2)
    return f"{given} {family}{rng.choice(['ov', 'ev', 'i', 'ani', 'son', ''])}"


def records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Shipments and counterparties with unique made-up names, ordinary and risky goods and routes."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for index in range(count):
        if rng.random() < 0.25:
            out.append({"id": f"cp-{index}", "kind": "counterparty",
                        "parties": [{"role": "counterparty", "name": rng.choice([company_name, person_name])(rng),
                                     "country": rng.choice(_COUNTRIES)}]})
            continue
        parties = [{"role": role, "name": company_name(rng), "country": rng.choice(_COUNTRIES)}
                   for role in ("seller", "consignee")]
        if rng.random() < 0.5:
            parties.append({"role": "end_user", "name": company_name(rng), "country": parties[1]["country"]})
        # A model code makes most descriptions unique, so caches in the engine do not flatter the figures.
        goods = [{"description": f"{d}, model {word(rng).upper()}-{rng.randint(10, 9999)}", "hs_code": h,
                  "quantity": rng.randint(1, 1000)}
                 for d, h in rng.sample(_GOODS, rng.randint(1, 3))]
        route = [{"role": role, "place": place, "country": country, "locode": code}
                 for role, (place, country, code) in zip(("port_of_loading", "port_of_discharge"),
                                                         rng.sample(_PORTS, 2), strict=True)]
        out.append({"id": f"sh-{index}", "kind": "shipment", "parties": parties, "goods": goods, "route": route})
    return out


def party_entries(count: int, seed: int = 11) -> list[PartySpec]:
    """Made-up listed parties (organisations, people, a few vessels) with aliases, for scaling the index."""
    rng = random.Random(seed)
    out: list[PartySpec] = []
    for index in range(count):
        kind = rng.choices(["organization", "person", "vessel"], weights=[6, 3, 1])[0]
        if kind == "vessel":
            name = f"{word(rng).upper()} {rng.randint(1, 99)}"
        elif kind == "person":
            name = person_name(rng)
        else:
            name = company_name(rng)
        aliases = [company_name(rng) if kind == "organization" else person_name(rng)
                   for _ in range(rng.randint(0, 2))] if kind != "vessel" else []
        out.append(PartySpec(id=f"syn-{index}", type=kind, name=name, aliases=aliases,  # type: ignore[arg-type]
                             countries=[rng.choice(_COUNTRIES)], sources=["synthetic"]))
    return out
