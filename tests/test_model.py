from __future__ import annotations

import pytest

from service.errors import RecordError
from service.model import parse_record


def errors_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(RecordError) as info:
        parse_record(data)
    return info.value.errors


def test_minimal_record() -> None:
    record = parse_record({"id": "r1"})
    assert record.kind == "shipment"
    assert record.parties == [] and record.goods == []


def test_unknown_key_is_named() -> None:
    assert errors_of({"id": "r1", "parties": [{"name": "A", "nmae": "B"}]}) == [
        ("parties[0].nmae", "Extra inputs are not permitted")]


def test_missing_party_name_is_named() -> None:
    assert errors_of({"id": "r1", "parties": [{"role": "buyer"}, {"role": "seller", "name": "X"}]})[0][0] == (
        "parties[0].name")


def test_missing_id() -> None:
    assert errors_of({"parties": []}) == [("id", "Field required")]


def test_unknown_role_lists_the_valid_ones() -> None:
    ((path, message),) = errors_of({"id": "r1", "parties": [{"role": "boss", "name": "A"}]})
    assert path == "parties[0].role"
    assert "consignee" in message


@pytest.mark.parametrize("code", ["8542.31", "854231", "8542 31 00", "8542.31.0001", "8542", 85423100])
def test_hs_code_accepts_any_punctuation(code: object) -> None:
    assert parse_record({"id": "r1", "goods": [{"hs_code": code}]}).goods[0].hs_code == str(code)


@pytest.mark.parametrize("code", ["854", "85423100001", "abc"])
def test_hs_code_needs_4_to_10_digits(code: str) -> None:
    ((path, message),) = errors_of({"id": "r1", "goods": [{"hs_code": code}]})
    assert path == "goods[0].hs_code"
    assert "4 to 10 digits" in message


def test_numbers_are_accepted_for_codes() -> None:
    record = parse_record({"id": 17, "vessels": [{"imo": 9481910}], "attributes": {"po": 42, "urgent": True}})
    assert record.id == "17"
    assert record.vessels[0].imo == "9481910"
    assert record.attributes == {"po": "42", "urgent": "true"}


def test_unknown_identifier_kind() -> None:
    ((path, _),) = errors_of({"id": "r1", "parties": [{"name": "A", "identifiers": {"ssn": "1"}}]})
    assert path == "parties[0].identifiers.ssn"


def test_not_an_object() -> None:
    assert errors_of(["not", "a", "record"])[0][0] == "record"
