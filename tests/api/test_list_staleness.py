"""/readyz warns about imported lists older than SCREENING_LIST_MAX_AGE_DAYS (or unreadable) that the pack
screens with; a stale list is a warning, never a reason to stop screening."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from service.lists.model import CompiledList, ListMeta
from service.lists.storage import compiled_path, save_compiled_list
from service.rulepack.spec import PartySpec
from tests.api.conftest import Api

TODAY = datetime.now(UTC).date()


def save_list(data_dir: Path, name: str, *, published: date | None, imported_days_ago: int = 0) -> None:
    entry = PartySpec.model_validate({"id": f"{name}-1", "type": "organization", "name": f"Qzyrtvalk {name} LLC",
                                      "sources": ["synthetic"]})
    meta = ListMeta(name=name, title=name, source_format="test", published=published,
                    imported_at=datetime.now(UTC) - timedelta(days=imported_days_ago), entry_count=1,
                    source_digest=f"sha256:{name}")
    save_compiled_list(CompiledList(meta=meta, entries=[entry]), data_dir)


def test_readyz_warns_about_the_stale_lists_it_screens_with(make_api: Callable[..., Api], tmp_path: Path) -> None:
    data = tmp_path / "data"
    save_list(data, "stale-list", published=TODAY - timedelta(days=30))
    save_list(data, "undated-list", published=None, imported_days_ago=10)
    save_list(data, "fresh-list", published=TODAY - timedelta(days=7))  # exactly the limit: still fresh
    save_list(data, "unused-list", published=TODAY - timedelta(days=100))  # not screened with: not reported
    api = make_api(pack=None, imported_lists=["stale-list", "undated-list", "fresh-list"], list_max_age_days=7)
    ready = api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and set(body["checks"].values()) == {"ok"}
    assert body["warnings"] == ["list stale-list is 30 days old (published; limit 7 days)",
                                "list undated-list is 10 days old (imported; limit 7 days)"]


def test_readyz_follows_the_files_without_a_reload(make_api: Callable[..., Api], tmp_path: Path) -> None:
    data = tmp_path / "data"
    save_list(data, "stale-list", published=TODAY - timedelta(days=30))
    api = make_api(pack=None, imported_lists=["stale-list"], list_max_age_days=14)
    assert api.get("/readyz").json()["warnings"] == ["list stale-list is 30 days old (published; limit 14 days)"]
    save_list(data, "stale-list", published=TODAY)  # a newer publication imported
    assert api.get("/readyz").json()["warnings"] == []
    compiled_path(data, "stale-list").write_bytes(b"not a compiled list")  # damaged on disk
    damaged = api.get("/readyz")
    assert damaged.status_code == 200 and damaged.json()["status"] == "ready"
    (warning,) = damaged.json()["warnings"]
    assert warning.startswith("list stale-list cannot be read: ") and "damaged compiled list" in warning
