"""Batch runs load the pack and imported lists exactly as ``screen`` and ``serve`` do (the same settings give
the same pack and lists), and the lists are part of the run's identity."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.batch import BatchOptions, ExitCode, prepare_batch, run_batch
from service.batch.packs import load_run_pack
from service.errors import BatchError, PackError
from service.lists import CompiledList, ListMeta, save_compiled_list
from service.lists.loading import load_configured_pack
from service.rulepack.spec import PartySpec
from service.settings import Settings
from tests.batch.conftest import STAMP
from tests.factory import write_pack


def _list(name: str, entry_name: str) -> CompiledList:
    entries = [PartySpec(id=f"{name}-zvezda", type="organization", name=entry_name, countries=["RU"],
                         sources=[name])]
    meta = ListMeta(name=name, title="Test list", source_format="test", imported_at=datetime(2026, 1, 1, tzinfo=UTC),
                    entry_count=len(entries), source_digest=f"sha256:{entry_name}")
    return CompiledList(meta=meta, entries=entries)


@pytest.fixture
def pack_with_lists(tmp_path: Path) -> tuple[Path, Path]:
    """A pack whose pack.yaml imports ``test-sdn`` and ``other-list``, and the data folder for its lists."""
    pack = write_pack(tmp_path, parties=[{"id": "ru-curated", "type": "organization", "name": "Curated Example LLC"}],
                      pack={"imported_lists": ["test-sdn", "other-list"]})
    seed = (tmp_path / "seeds" / "test-source.yaml").read_text(encoding="utf-8")
    for name in ("test-sdn", "other-list"):
        (tmp_path / "seeds" / f"{name}.yaml").write_text(seed.replace("id: test-source", f"id: {name}"),
                                                          encoding="utf-8")
    return pack, tmp_path / "data"


def _input(tmp_path: Path) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "r1", "parties": [{"role": "consignee", "name": "Zvezda Trading Co"}]}) + "\n",
                      encoding="utf-8")
    return source


def test_a_list_never_imported_is_a_usage_error(tmp_path: Path, pack_with_lists: tuple[Path, Path]) -> None:
    pack_path, data_dir = pack_with_lists
    save_compiled_list(_list("test-sdn", "Zvezda Trading Company"), data_dir)
    settings = Settings(pack_path=pack_path, data_dir=data_dir)
    with pytest.raises(PackError, match=r"other-list.*list not imported"):
        load_configured_pack(settings)
    with pytest.raises(BatchError, match="other-list: imported_lists: list not imported"):
        prepare_batch(BatchOptions(inputs=(_input(tmp_path),), out=tmp_path / "out.jsonl", workers=1), settings)
    assert not (tmp_path / "out.jsonl.journal").exists()


@pytest.mark.parametrize("configured", [None, ["test-sdn"], []])
def test_the_same_settings_load_the_same_pack_and_lists_as_serve_and_screen(
        configured: list[str] | None, pack_with_lists: tuple[Path, Path]) -> None:
    pack_path, data_dir = pack_with_lists
    save_compiled_list(_list("test-sdn", "Zvezda Trading Company"), data_dir)
    save_compiled_list(_list("other-list", "Other Example Company"), data_dir)
    settings = Settings(pack_path=pack_path, data_dir=data_dir, imported_lists=configured)
    pack = load_run_pack(settings)
    expected = load_configured_pack(settings)
    assert pack.list_digests == expected.list_digests
    assert sorted(pack.party_lists) == sorted(expected.party_lists)
    assert pack.info.digest == expected.info.digest
    wanted = ["test-sdn", "other-list"] if configured is None else configured
    assert sorted(pack.list_digests) == sorted(wanted)


def test_imported_lists_are_screened_and_identify_the_run(tmp_path: Path, pack_with_lists: tuple[Path, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pack_path, data_dir = pack_with_lists
    save_compiled_list(_list("test-sdn", "Zvezda Trading Company"), data_dir)
    # SCREENING_IMPORTED_LISTS narrows the pack's lists, as for `screen` and `serve`
    settings = Settings(pack_path=pack_path, data_dir=data_dir, imported_lists=["test-sdn"])
    options = BatchOptions(inputs=(_input(tmp_path),), out=tmp_path / "out.jsonl", workers=1, screened_at=STAMP,
                           progress="none")
    outcome = run_batch(options, settings)
    assert outcome.exit_code is ExitCode.done
    result = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert result["decision"] == "review"
    assert {e["list"] for f in result["flags"] for e in f["evidence"]} == {"test-sdn"}
    assert outcome.summary["top_entries"] == [{"entry": "test-sdn-zvezda", "name": "Zvezda Trading Company",
                                                "list": "test-sdn", "records": 1}]
    imported = outcome.summary["run"]["pack"]["imported_lists"]
    assert imported == {"test-sdn": "sha256:Zvezda Trading Company importer 1.0.0"}

    # a re-imported list changes what the run screens against, so it changes the run's identity: an
    # interrupted run cannot be resumed with it
    pack = load_run_pack(settings)
    from service.batch import job

    def power_cut(paths: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(job, "rename_finals", power_cut)
    with pytest.raises(OSError, match="power cut"):
        run_batch(replace(options, out=tmp_path / "again.jsonl"), settings)
    monkeypatch.undo()
    assert (tmp_path / "again.jsonl.journal").exists()
    save_compiled_list(_list("test-sdn", "Zvezda Trading Corporation"), data_dir)
    assert load_run_pack(settings).info.digest != pack.info.digest
    with pytest.raises(BatchError, match="the rule pack or its imported lists changed"):
        prepare_batch(replace(options, out=tmp_path / "again.jsonl", resume=True), settings)
