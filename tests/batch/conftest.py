"""Fixtures for batch tests.

Fixture strategy: batch runs screen against the bundled pack (the product), with records built from the
pack's own entries so some of them are hits whatever the pack holds, and ordinary made-up records for the
rest. Input files are written per test in ``tmp_path`` in every format; runs use one worker process (the
machine is shared) and a fixed ``screened_at`` so outputs can be compared byte for byte.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.batch.mapping import default_header, flatten_record
from service.model import Record
from service.rulepack import Pack
from service.settings import Settings
from tests.conftest import BUNDLED_PACK, ROOT

STAMP = datetime(2026, 1, 31, 2, 0, tzinfo=UTC)

_COMPANY_WORDS = ["Harbor", "Summit", "Amber", "Nordic", "Delta", "Granite", "Lumen", "Cedar", "Orion", "Vega"]
_TRADES = ["Trading", "Logistics", "Components", "Supplies", "Industries", "Distribution"]
_COUNTRIES = ["DE", "FR", "NL", "PL", "IT", "ES", "SE", "US", "JP", "KR", "TR", "AE", "KZ", "RU", "IR", "CN"]
_GOODS = [("aluminium sheets", "760612"), ("plastic garden furniture", "940370"), ("cotton t-shirts", "610910"),
          ("office chairs", "940130"), ("ball bearings", "848210"), ("integrated circuits", "854231"),
          ("GNSS receiver modules", "852691"), ("wooden pallets", "441520")]


def build_records(pack: Pack, count: int, seed: int = 7) -> list[Record]:
    """``count`` varied records: every fifth names a listed party of the pack, the rest are ordinary."""
    rng = random.Random(seed)
    listed = [p for entries in pack.party_lists.values() for p in entries if p.type != "vessel"]
    records = []
    for i in range(count):
        seller = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_TRADES)} GmbH"
        consignee_country = rng.choice(_COUNTRIES)
        consignee = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_WORDS)} {rng.choice(_TRADES)} LLC"
        if listed and i % 5 == 0:
            entry = listed[(i // 5) % len(listed)]
            consignee = entry.name
            consignee_country = entry.countries[0] if entry.countries else consignee_country
        description, hs_code = rng.choice(_GOODS)
        data: dict[str, Any] = {
            "id": f"rec-{i:05d}",
            "kind": "shipment",
            "parties": [{"role": "seller", "name": seller, "country": "DE"},
                        {"role": "consignee", "name": consignee, "country": consignee_country}],
            "goods": [{"description": description, "hs_code": hs_code, "quantity": rng.randint(1, 500),
                       "value": round(rng.uniform(100, 90000), 2), "currency": "EUR"}],
            "route": [{"role": "port_of_loading", "place": "Hamburg", "country": "DE", "locode": "DEHAM"},
                      {"role": "destination", "country": consignee_country}],
        }
        if i % 7 == 3:
            data["parties"].append({"role": "end_user", "name": f"{rng.choice(_COMPANY_WORDS)} Research Institute",
                                    "country": consignee_country,
                                    "identifiers": {"inn": str(rng.randint(10**9, 10**10))}})
        if i % 11 == 4:
            data["vessels"] = [{"name": f"{rng.choice(_COMPANY_WORDS)} Star", "imo": str(9_000_000 + i)}]
        if i % 3 == 1:
            data["attributes"] = {"incoterms": rng.choice(["CPT", "DAP", "FCA"])}
        records.append(Record.model_validate(data))
    return records


def write_jsonl(path: Path, records: Sequence[Record]) -> Path:
    path.write_text("".join(r.model_dump_json(exclude_defaults=True) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path: Path, records: Sequence[Record]) -> Path:
    """Records in the default CSV layout (header in canonical order)."""
    import csv

    rows = [flatten_record(r) for r in records]
    header = default_header(rows)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def write_parquet_flat(path: Path, records: Sequence[Record]) -> Path:
    """Records in the default layout as flat (string) Parquet columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [flatten_record(r) for r in records]
    header = default_header(rows)
    table = pa.table({column: [row.get(column) for row in rows] for column in header})
    pq.write_table(table, path, row_group_size=17)
    return path


def write_parquet_nested(path: Path, records: Sequence[Record]) -> Path:
    """Records of the contract as nested Parquet (lists of structs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(r.model_dump_json(exclude_defaults=True)) for r in records]
    # pa.array infers the struct type from every row (Table.from_pylist only looks at the first)
    pq.write_table(pa.Table.from_struct_array(pa.array(rows)), path, row_group_size=13)
    return path


@pytest.fixture
def batch_settings(tmp_path: Path) -> Settings:
    return Settings(pack_path=BUNDLED_PACK, data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def sample_records(bundled_pack: Pack) -> list[Record]:
    return build_records(bundled_pack, 240)


def batch_command(*args: str | Path) -> list[str]:
    """The command line of ``python -m service.batch`` with these arguments."""
    return [sys.executable, "-m", "service.batch", *(str(a) for a in args)]


REPO_ROOT = ROOT
