"""Target paths, mapping files, the default layout and mapping proposals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service.batch.mapping import (
    ColumnMapping,
    default_header,
    default_target,
    flatten_record,
    guess_target,
    load_mapping,
    mapping_from_data,
    parse_target,
    plan_for_header,
    propose_mapping,
)
from service.errors import BatchError
from service.model import Record
from tests.factory import record


@pytest.mark.parametrize(("text", "canonical"), [
    ("id", "id"),
    ("declared_end_use", "declared_end_use"),
    ("attributes.incoterms", "attributes.incoterms"),
    ("parties[consignee].name", "parties[consignee].name"),
    ("parties[consignee#1].name", "parties[consignee].name"),
    ("parties[notify_party#2].country", "parties[notify_party#2].country"),
    ("parties[buyer].identifiers.inn", "parties[buyer].identifiers.inn"),
    ("goods[0].hs_code", "goods[0].hs_code"),
    ("goods[03].value", "goods[3].value"),
    ("route[port_of_loading].locode", "route[port_of_loading].locode"),
    ("vessels[1].imo", "vessels[1].imo"),
])
def test_target_paths_parse_to_canonical_form(text: str, canonical: str) -> None:
    assert parse_target(text).path == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("parties[consignee].nam", "unknown field 'nam'"),
    ("parties[0].name", "selected by role"),
    ("parties[importer].name", "unknown parties role 'importer'"),
    ("goods[consignee].hs_code", "selected by position"),
    ("route[harbour].locode", "unknown route role"),
    ("parties[buyer].identifiers.swift", "identifiers take a kind"),
    ("attributes.", "attribute target"),
    ("consignee", "not a target path"),
])
def test_bad_target_paths_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_target(text)


def test_mapping_file_problems_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump({
        "columns": {"ref": "id", "cnee": "parties[consignee].nam", "cnee2": "parties[consignee].country",
                    "cnee_ctry": "parties[consignee].country"},
        "ignore": ["ref"],
        "delimiter": ";;",
        "encoding": "utf-16",
        "colums": {},
    }), encoding="utf-8")
    with pytest.raises(BatchError) as caught:
        load_mapping(path)
    text = str(caught.value)
    assert f"{path}: columns.cnee: 'parties[consignee].nam': unknown field 'nam'" in text
    assert f"{path}: columns.cnee_ctry: parties[consignee].country is already fed by column 'cnee2'" in text
    assert f"{path}: ignore: ref: column is both mapped and ignored" in text
    assert f"{path}: delimiter:" in text
    assert "'utf-16' is not ASCII-compatible" in text
    assert f"{path}: colums: unknown key" in text


def test_mapping_without_id_column_is_rejected() -> None:
    with pytest.raises(BatchError, match="no column feeds 'id'"):
        mapping_from_data({"columns": {"name": "parties[consignee].name"}}, "m.yaml", "d")


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("columns: [unclosed\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"map\.yaml: -: not valid YAML"):
        load_mapping(path)


def test_a_mapping_builds_records_and_remembers_columns() -> None:
    mapping = mapping_from_data({
        "columns": {"ref": "id", "cnee": "parties[consignee].name", "cnee_ctry": "parties[consignee].country",
                    "shipper": "parties[shipper].name", "hs_code_1": "goods[0].hs_code",
                    "hs_code_3": "goods[2].hs_code", "pol": "route[port_of_loading].locode",
                    "inco": "attributes.incoterms"},
        "constants": {"kind": "shipment"},
    }, "m.yaml", "digest")
    header = ["ref", "shipper", "cnee", "cnee_ctry", "hs_code_1", "hs_code_3", "pol", "inco", "note"]
    plan, warnings = plan_for_header(header, mapping, "in.csv")
    assert warnings == ["in.csv: columns not in the mapping are not screened: note (list them under 'ignore' "
                        "in m.yaml to silence this)"]
    data, sources = plan.build(["R1", "", "OOO Test", "RU", "8542.31", "8517.62", "DEHAM", "CPT", "x"])
    assert data == {
        "kind": "shipment", "id": "R1", "attributes": {"incoterms": "CPT"},
        "parties": [{"role": "consignee", "name": "OOO Test", "country": "RU"}],
        "goods": [{"hs_code": "8542.31"}, {"hs_code": "8517.62"}],
        "route": [{"role": "port_of_loading", "locode": "DEHAM"}],
    }
    # positions count only the groups present in the row: goods[2] of the mapping is goods[1] here
    assert sources["goods[1].hs_code"] == "hs_code_3"
    assert sources["parties[0].country"] == "cnee_ctry"


def test_missing_mapped_column_is_a_usage_error() -> None:
    mapping = mapping_from_data({"columns": {"ref": "id", "cnee": "parties[consignee].name"}}, "m.yaml", "d")
    with pytest.raises(BatchError, match=r"in\.csv: header: cnee: column named in m\.yaml is missing"):
        plan_for_header(["ref"], mapping, "in.csv")


def test_default_layout_rejects_unknown_columns() -> None:
    with pytest.raises(BatchError, match=r"in\.csv: header: consignee_nmae, notes: not columns of the default layout"):
        plan_for_header(["id", "consignee_nmae", "notes"], ColumnMapping.default(), "in.csv")


@pytest.mark.parametrize(("column", "target"), [
    ("id", "id"),
    ("consignee_name", "parties[consignee].name"),
    ("end_user_country", "parties[end_user].country"),
    ("freight_forwarder_inn", "parties[freight_forwarder].identifiers.inn"),
    ("notify_party2_name", "parties[notify_party#2].name"),
    ("goods_hs_code", "goods[0].hs_code"),
    ("goods3_part_number", "goods[2].part_number"),
    ("route_port_of_loading_locode", "route[port_of_loading].locode"),
    ("route_transit2_country", "route[transit#2].country"),
    ("vessel_imo", "vessels[0].imo"),
    ("vessel2_name", "vessels[1].name"),
    ("attr_payment_method", "attributes.payment_method"),
    ("parties[bank].name", "parties[bank].name"),
    ("consignee", None),
    ("goods_weight", None),
])
def test_default_layout_columns(column: str, target: str | None) -> None:
    assert default_target(column) == target


def _rich_record() -> Record:
    return record(
        id="ship-1", kind="shipment", declared_end_use="spare parts",
        parties=[{"role": "seller", "name": "Nord GmbH", "country": "DE", "identifiers": {"lei": "5299"}},
                 {"role": "consignee", "name": "OOO Test", "country": "RU", "address": "ul. Lenina 1"},
                 {"role": "notify_party", "name": "First Notify"}, {"role": "notify_party", "name": "Second"}],
        goods=[{"description": "FPGA", "hs_code": "8542.39", "quantity": 12, "value": 1234.5, "currency": "EUR"},
               {"part_number": "XC7A35T"}],
        route=[{"role": "port_of_loading", "place": "Hamburg", "locode": "DEHAM"},
               {"role": "transit", "country": "KZ"}, {"role": "transit", "country": "AM"},
               {"role": "destination", "country": "RU"}],
        vessels=[{"name": "Port Olya 3", "imo": "9481910"}],
        attributes={"incoterms": "CPT"})


def test_flatten_and_default_plan_round_trip() -> None:
    original = _rich_record()
    row = flatten_record(original)
    assert row["notify_party2_name"] == "Second"
    assert row["route_transit2_country"] == "AM"
    assert row["goods2_part_number"] == "XC7A35T"
    header = default_header([row])
    plan, warnings = plan_for_header(header, ColumnMapping.default(), "x.csv")
    assert warnings == []
    data, _ = plan.build([row.get(column, "") for column in header])
    assert Record.model_validate(data) == original


def test_propose_mapping_guesses_common_export_names() -> None:
    header = ["Shipment Ref", "Cnee Name", "cnee_ctry", "Exporter", "HS Code 1", "Goods Desc 1", "POL LOCODE",
              "Final Destination", "vessel_imo", "Internal Note", "consignee_address_2"]
    text = propose_mapping(header, "/data/export.csv")
    mapping = mapping_from_data(yaml.safe_load(text), "proposal", "p")
    assert {column: target.path for column, target in mapping.columns.items()} == {
        "Shipment Ref": "id", "Cnee Name": "parties[consignee].name", "cnee_ctry": "parties[consignee].country",
        "Exporter": "parties[seller].name", "HS Code 1": "goods[0].hs_code", "Goods Desc 1": "goods[0].description",
        "POL LOCODE": "route[port_of_loading].locode", "Final Destination": "route[destination].country",
        "vessel_imo": "vessels[0].imo",
    }
    assert mapping.ignore == {"Internal Note", "consignee_address_2"}
    assert "export.csv" in text


def test_guess_leaves_ambiguous_names_alone() -> None:
    assert guess_target("type") is None
    assert guess_target("created_by") is None
