from __future__ import annotations

import pytest

from service.engine.normalise import digits_only, fold, skeleton, tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ООО «Альбатрос»", "ooo albatros"),
        ("Елабуга", "elabuga"),
        ("ул. Ш-2", "ul sh 2"),
        ("Шагивалеев Тимур Наилевич", "shagivaleev timur nailevich"),
        ("Герань-2", "geran 2"),
        ("Єлабуга", "yelabuga"),
        ("Shahed136", "shahed 136"),
        ("S.A. de C.V.", "sa de cv"),
        ("K.D.P. CO LTD", "kdp co ltd"),
        ("R. A. SARRIA DIAZ", "r a sarria diaz"),
        ("Akgündüz Enerji Sanayi ve Ticaret Ltd. Şti.", "akgunduz enerji sanayi ve ticaret ltd sti"),
        ("ＦＵＬＬ　ＷＩＤＴＨ", "full width"),
        ("فاتح-۳۶۰", "fath 360"),
        ("Straße", "strasse"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_short_i_keeps_its_letter() -> None:
    # Transliteration runs before accents are stripped, or й would become и.
    assert fold("Толстой") == "tolstoy"


@pytest.mark.parametrize(
    ("a", "b"),
    [("qods", "ghods"), ("qods", fold("قدس")), ("khiabani", "hiabani"), ("mohajer", fold("مهاجر")),
     ("hossein", "husein")],
)
def test_transliteration_variants_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("bearing", "bearings"), ("albatros", "alabuga"), ("shahed", "saeed")])
def test_different_words_keep_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


def test_digits_only_reads_any_script() -> None:
    assert digits_only("IMO ۹۴۸۱۹۱۰") == "9481910"
    assert digits_only("imo: 8606628") == "8606628"


def test_tokens_of_empty_text() -> None:
    assert tokens("  --  ") == []
