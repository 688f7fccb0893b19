from __future__ import annotations

import pytest

from service.engine.places import MarkerIndex, PortIndex, TermSets, normalise_locode
from service.rulepack.spec import AddressMarkerSpec, PortSpec, TermSetSpec

PORTS = PortIndex([
    PortSpec(id="ir-amirabad", name="Bandar Amirabad", country="IR", locodes=["IRAMD", "IRAMP"],
             variants=["Amirabad", "Amir Abad", "بندر امیرآباد", "Амирабад"], tags=["caspian-concern"],
             sources=["src"]),
    PortSpec(id="ru-makhachkala", name="Makhachkala", country="RU", locodes=["RUMCX"], variants=["Махачкала"],
             tags=["caspian-concern"], sources=["src"]),
    PortSpec(id="ir-astara", name="Astara", country="IR", locodes=["IRASR"], tags=["caspian"], sources=["src"]),
    PortSpec(id="az-astara", name="Astara", country="AZ", locodes=["AZAST"], tags=["caspian"], sources=["src"]),
])


@pytest.mark.parametrize("code", ["IRAMD", "IR AMD", "ir-amd", " iramd "])
def test_locode_in_any_spelling(code: str) -> None:
    hit = PORTS.by_locode(code)
    assert hit is not None and hit.port.id == "ir-amirabad"


def test_locode_must_be_five_characters() -> None:
    assert normalise_locode("IRAM") is None
    assert normalise_locode("12345") is None


@pytest.mark.parametrize(
    ("place", "country", "expected"),
    [
        ("Port of Makhachkala", None, "ru-makhachkala"),
        ("Махачкала", "RU", "ru-makhachkala"),
        ("بندر امیرآباد", None, "ir-amirabad"),
        ("Amirabad port", "IR", "ir-amirabad"),
        ("Amirabad", "AF", None),
        ("Astara", "AZ", "az-astara"),
        ("Astara", "IR", "ir-astara"),
        ("Makhachkala Commercial Sea Port", None, "ru-makhachkala"),
        ("Hamburg", "DE", None),
    ],
)
def test_port_by_name(place: str, country: str | None, expected: str | None) -> None:
    hit = PORTS.by_name(place, country, None)
    assert (hit.port.id if hit else None) == expected


def test_a_locode_of_another_place_overrules_the_name() -> None:
    # IR BAM is an Amirabad on the Persian Gulf, not the Caspian port.
    assert PORTS.by_name("Amirabad", "IR", "IRBAM") is None
    hit = PORTS.by_name("Amirabad", "IR", "IRAMD")
    assert hit is not None and hit.port.id == "ir-amirabad"


MARKERS = MarkerIndex([AddressMarkerSpec(id="alabuga-sez", title="Alabuga SEZ",
                                         any_of=[["alabuga"], ["yelabuga", "sh-2"], ["elabuga", "sh-2"]],
                                         sources=["src"])])


@pytest.mark.parametrize(
    ("address", "matches"),
    [
        ("423601, Республика Татарстан, тер. ОЭЗ «Алабуга», ул. Ш-2, зд. 4/1", True),
        ("ul. Sh-2, 5/12, Elabuga", True),
        ("Sh-2 street 4, Yelabuga 423600", True),
        ("Tuscaloosa, Alabama", False),
        ("Elabuga, ul. Lenina 2", False),
    ],
)
def test_address_markers(address: str, matches: bool) -> None:
    assert bool(MARKERS.match(address)) is matches


def test_term_sets_inside_name_and_whole_name() -> None:
    sets = TermSets({
        "forwarders": TermSetSpec(id="forwarders", title="f", terms=["freight forwarding", "logistics"],
                                  sources=["src"]),
        "placeholders": TermSetSpec(id="placeholders", title="p", terms=["TBA", "unknown"], whole_name=True,
                                    sources=["src"]),
    })
    assert sets.find("forwarders", "Sykora Freight-Forwarding s.r.o.") == "freight forwarding"
    assert sets.find("forwarders", "Freightliner Trucks") is None
    assert sets.find("placeholders", "T.B.A.") == "TBA"
    assert sets.find("placeholders", "Unknown Soldier Memorial Fund") is None
