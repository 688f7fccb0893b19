"""Batch runs screen against the official lists the pack imports, exactly like the coordinator loads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.batch import BatchOptions, ExitCode, run_batch
from service.batch.packs import build_screener, imported_list_paths, load_batch_pack, screening_digest
from service.errors import BatchError
from service.lists import CompiledList, ListMeta, save_compiled_list
from service.rulepack.spec import PartySpec
from service.settings import Settings
from tests.batch.conftest import STAMP
from tests.factory import write_pack


def _list(name: str, entry_name: str) -> CompiledList:
    entries = [PartySpec(id="sdn-zvezda", type="organization", name=entry_name, countries=["RU"], sources=[name])]
    meta = ListMeta(name=name, title="Test list", source_format="test", imported_at=datetime(2026, 1, 1, tzinfo=UTC),
                    entry_count=len(entries), source_digest=f"sha256:{entry_name}")
    return CompiledList(meta=meta, entries=entries)


@pytest.fixture
def pack_with_list(tmp_path: Path) -> tuple[Path, Path]:
    pack = write_pack(tmp_path, parties=[{"id": "ru-curated", "type": "organization", "name": "Curated Example LLC"}],
                      pack={"imported_lists": ["test-sdn"]})
    seed = (tmp_path / "seeds" / "test-source.yaml").read_text(encoding="utf-8")
    (tmp_path / "seeds" / "test-sdn.yaml").write_text(seed.replace("id: test-source", "id: test-sdn"),
                                                     encoding="utf-8")
    return pack, tmp_path / "data"


def test_imported_lists_are_screened_and_identify_the_run(tmp_path: Path, pack_with_list: tuple[Path, Path]) -> None:
    pack_path, data_dir = pack_with_list
    settings = Settings(pack_path=pack_path, data_dir=data_dir)
    with pytest.raises(BatchError, match="list 'test-sdn', which has not been imported"):
        imported_list_paths(pack_path, data_dir)
    save_compiled_list(_list("test-sdn", "Zvezda Trading Company"), data_dir)
    paths = imported_list_paths(pack_path, data_dir)
    pack = load_batch_pack(pack_path, paths)
    assert "test-sdn" in pack.party_lists
    _, digest = build_screener(pack_path, paths)
    assert digest == screening_digest(pack) != pack.info.digest

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "r1", "parties": [{"role": "consignee", "name": "Zvezda Trading Co"}]}) + "\n",
                      encoding="utf-8")
    outcome = run_batch(BatchOptions(inputs=(source,), out=tmp_path / "out.jsonl", workers=1, screened_at=STAMP,
                                     progress="none"), settings)
    assert outcome.exit_code is ExitCode.done
    result = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert result["decision"] == "review"
    assert {e["list"] for f in result["flags"] for e in f["evidence"]} == {"test-sdn"}
    assert outcome.summary["top_entries"] == [{"entry": "sdn-zvezda", "name": "Zvezda Trading Company",
                                                "list": "test-sdn", "records": 1}]
    assert outcome.summary["run"]["pack"]["imported_lists"] == {"test-sdn": "sha256:Zvezda Trading Company"}

    # a re-imported list changes what the run screens against, so it changes the run's identity
    save_compiled_list(_list("test-sdn", "Zvezda Trading Corporation"), data_dir)
    assert screening_digest(load_batch_pack(pack_path, paths)) != digest
