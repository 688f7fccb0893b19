"""Identifier labels of the lists -> ``IdentifierKind``.

OFAC, the CSL, the UN, the UK and the EU each name their identifiers differently ("Tax ID No.", "fiscalcode",
"National Identification Number"...). This module maps the labels that the engine can match on to the
pack's identifier kinds; every other labelled value (websites, e-mail, SWIFT codes, directive dates) stays in
the entry's notes.

Russian numbers get their own kinds because counterparties quote them that way: a Russian tax number is the
INN, a 13- or 15-digit Russian registration number the OGRN (OGRNIP), and OFAC's "Government Gazette Number"
is the OKPO code.
"""

from __future__ import annotations

import re

from service.model import IdentifierKind

_LABEL_PUNCTUATION = re.compile(r"[\s.:#\-]+$")

_KINDS: dict[IdentifierKind, list[str]] = {
    IdentifierKind.imo: ["Vessel Registration Identification", "IMO", "IMO Number", "IMO number", "imo"],
    IdentifierKind.passport: ["Passport", "Diplomatic Passport", "National passport", "Passport Number",
                              "Numéro de passeport", "Número de pasaporte", "passport"],
    IdentifierKind.national_id: ["National ID No.", "National Identification Number", "Identification Number",
                                 "National ID Number", "Cedula No.", "C.U.R.P.", "D.N.I.", "Personal ID Card",
                                 "National Foreign ID Number", "C.U.I.", "SSN", "id", "national",
                                 "National identification card", "I.F.E.", "Credencial electoral"],
    IdentifierKind.tax_id: ["Tax ID No.", "R.F.C.", "RFC", "NIT #", "RUC #", "RIF #", "V.A.T. Number",
                            "US FEIN", "Italian Fiscal Code", "fiscalcode", "Tax Number", "Tax ID", "TIN",
                            "taxNumber"],
    IdentifierKind.registration: ["Registration Number", "Registration ID", "Public Registration Number",
                                  "Business Registration Number", "Company Number", "Commercial Registry Number",
                                  "C.R. No.", "Unified Social Credit Code (USCC)",
                                  "Business Registration Document #", "Chamber of Commerce Number",
                                  "Folio Mercantil No.", "Matricula Mercantil No", "Trade License No.",
                                  "regnumber", "Business Reg No", "business_registration_numbers",
                                  "registrationNumber", "Registration No."],
    IdentifierKind.lei: ["Legal Entity Number", "LEI", "leiCode"],
    IdentifierKind.okpo: ["Government Gazette Number", "OKPO", "okpoCode"],
    IdentifierKind.inn: ["INN", "innCode"],
    IdentifierKind.ogrn: ["OGRN", "OGRNIP", "ogrnCode"],
}


def normalise_label(label: str) -> str:
    """Case-folded label without trailing punctuation: ``Tax ID No.`` -> ``tax id no``."""
    return _LABEL_PUNCTUATION.sub("", " ".join(label.split())).casefold()


_BY_LABEL: dict[str, IdentifierKind] = {
    normalise_label(label): kind for kind, labels in _KINDS.items() for label in labels
}

#: Labels as OFAC writes them at the start of a Remarks item, longest first so that a longer label wins over
#: its own beginning ("Passport Number" over "Passport").
REMARK_LABELS: list[str] = sorted(
    {label for labels in _KINDS.values() for label in labels if label[0].isupper()}, key=len, reverse=True)

_DIGITS = re.compile(r"\d+")


def identifier_kind(label: str, country: str | None = None, value: str = "") -> IdentifierKind | None:
    """The kind of identifier ``label`` names (for a number issued by ``country``), or None.

    Russian tax numbers become ``inn``; Russian registration numbers of 13 or 15 digits become ``ogrn``.
    """
    kind = _BY_LABEL.get(normalise_label(label))
    if kind is None:
        return None
    if country == "RU":
        digits = "".join(_DIGITS.findall(value))
        if kind == IdentifierKind.tax_id and len(digits) in (10, 12):
            return IdentifierKind.inn
        if kind == IdentifierKind.registration and len(digits) in (13, 15):
            return IdentifierKind.ogrn
    return kind


def clean_identifier(kind: IdentifierKind, value: str) -> str:
    """The number as listed, without the 'IMO' prefix OFAC writes in front of IMO numbers."""
    text = value.strip().strip(",;")
    if kind == IdentifierKind.imo:
        digits = "".join(_DIGITS.findall(text))
        return digits if len(digits) == 7 else text
    return text


_NUMBERED = re.compile(r"\(\d{1,2}\)")
_REGISTRY_NUMBER = re.compile(r"(?<![\w/])((?:[A-Z]{1,3})?\d[\d\-]{3,}\d)(/\d{9})?(?![\w/])")
_LABEL_KINDS = ((re.compile(r"OGRN|ОГРН", re.IGNORECASE), "OGRN"),
                (re.compile(r"OKPO|ОКПО", re.IGNORECASE), "OKPO"),
                (re.compile(r"\b(?:INN|TIN|tax)|ИНН|УНН", re.IGNORECASE), "Tax ID No."),
                (re.compile(r"\bIMO\b"), "IMO"))


def numbered_parts(text: str) -> list[str]:
    """``(1) A (2) B`` -> ``['A', 'B']``: the UK lists number several values in one cell."""
    return [part.strip(" ,;") for part in _NUMBERED.split(text) if part.strip(" ,;")]


def business_numbers(text: str) -> list[tuple[IdentifierKind, str]]:
    """Registration and tax numbers in free text such as ``Russian TIN: 7718763393`` or
    ``(1) Kazakhstan BIN - 170440031562``; the words before a number say its kind (registration by default).
    A number written with a nine-digit suffix (``7704734000/770301001``) is a Russian INN with its KPP and gives
    the INN alone."""
    found: list[tuple[IdentifierKind, str]] = []
    for part in numbered_parts(text):
        named = "Registration Number"  # a number without words before it has the kind of the one before
        for segment in re.split(r"[;,]", part):
            country = "RU" if "russia" in segment.casefold() or re.search(r"ИНН|ОГРН", segment) else None
            start = 0
            for match in _REGISTRY_NUMBER.finditer(segment):
                label = segment[start: match.start()]
                start = match.end()
                named = next((name for pattern, name in _LABEL_KINDS if pattern.search(label)),
                             named if not re.search(r"[^\W\d_]{2}", label) else "Registration Number")
                if match.group(2):  # INN/KPP: only a Russian tax number is written with its KPP
                    named, country = "Tax ID No.", "RU"
                number = match.group(1)
                kind = identifier_kind(named, country, number)
                if kind is not None and (kind, number) not in found:
                    found.append((kind, clean_identifier(kind, number)))
    return found
