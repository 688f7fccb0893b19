"""Every endpoint with every role, allowed and refused; missing, unknown and revoked keys; auth disabled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.api.packs import LoadedPack
from service.store import ApiKeyRepository, Role
from tests.api.conftest import Api, clear_record, start_api


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    success: int = 200
    body: Callable[[Api], Any] | None = None

    def url(self, api: Api) -> str:
        return self.path.format(**api_ids(api))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_ids(api: Api) -> dict[str, Any]:
    ids: dict[str, Any] = api.app.state.matrix_ids
    return ids


def _new_key_to_revoke(api: Api) -> None:
    issued = ApiKeyRepository(api.runtime.database).create("to revoke", Role.screener, created_by="test")
    api_ids(api)["revoke_id"] = issued.key.id


ALL_ROLES = frozenset(Role)
SCREENERS = frozenset({Role.screener, Role.admin})
READERS = frozenset({Role.reviewer, Role.approver, Role.admin})
ADMIN = frozenset({Role.admin})

ENDPOINTS = [
    Endpoint("POST", "/v1/screen", SCREENERS, body=lambda api: clear_record()),
    Endpoint("POST", "/v1/screen/batch", SCREENERS, body=lambda api: {"records": [clear_record()]}),
    Endpoint("GET", "/v1/screenings", ALL_ROLES),
    Endpoint("GET", "/v1/screenings/{screening_id}", ALL_ROLES),
    Endpoint("GET", "/v1/pack", ALL_ROLES),
    Endpoint("GET", "/v1/pack/entries/{entry_id}", READERS),
    Endpoint("POST", "/v1/pack/reload", ADMIN),
    Endpoint("GET", "/v1/keys", ADMIN),
    Endpoint("POST", "/v1/keys", ADMIN, success=201, body=lambda api: {"name": "new client", "role": "screener"}),
    Endpoint("POST", "/v1/keys/{revoke_id}/revoke", ADMIN),
]
OPEN_ENDPOINTS = ["/healthz", "/readyz", "/metrics"]


@pytest.fixture(scope="module")
def matrix_api(tmp_path_factory: pytest.TempPathFactory, loaded_pack: LoadedPack) -> Iterator[Api]:
    with ExitStack() as stack:
        api = start_api(stack, tmp_path_factory.mktemp("matrix"), loaded_pack)
        # The screening that GET /v1/screenings/{id} reads was made by the screener key, so even the
        # screener (who sees only its own) is allowed to read it.
        made = api.post("/v1/screen", role="screener", json=clear_record("matrix-1"))
        assert made.status_code == 200, made.text
        entry_id = loaded_pack.pack.party_lists["curated"][0].id
        api.app.state.matrix_ids = {"screening_id": made.json()["screening_id"], "entry_id": entry_id}
        yield api


def _call(api: Api, endpoint: Endpoint, **kwargs: Any) -> Any:
    if "revoke_id" in endpoint.path:
        _new_key_to_revoke(api)
    body = endpoint.body(api) if endpoint.body else None
    return api.request(endpoint.method, endpoint.url(api), json=body, **kwargs)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_role_matrix(matrix_api: Api, endpoint: Endpoint, role: Role) -> None:
    response = _call(matrix_api, endpoint, role=role.value)
    if role in endpoint.allowed:
        assert response.status_code == endpoint.success, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
        assert role.value in response.json()["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("credentials", ["none", "revoked", "unknown", "malformed", "basic"])
def test_every_endpoint_needs_a_valid_key(matrix_api: Api, endpoint: Endpoint, credentials: str) -> None:
    headers = {
        "none": {},
        "revoked": {"Authorization": f"Bearer {matrix_api.keys['revoked']}"},
        "unknown": {"Authorization": "Bearer scr_0badc0de_" + "x" * 43},
        "malformed": {"Authorization": "Bearer hunter2"},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[credentials]
    response = _call(matrix_api, endpoint, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", OPEN_ENDPOINTS)
@pytest.mark.parametrize("role", [None, *Role], ids=str)
def test_operations_endpoints_need_no_key(matrix_api: Api, path: str, role: Role | None) -> None:
    response = matrix_api.get(path, role=role.value if role else None)
    assert response.status_code == 200, response.text


def test_a_key_revoked_over_http_stops_working_at_once(api: Api) -> None:
    secret = api.add_key("soon gone", Role.screener)
    assert api.get("/v1/pack", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    key_id = ApiKeyRepository(api.runtime.database).list()[-1].id
    revoked = api.post(f"/v1/keys/{key_id}/revoke", role="admin")
    assert revoked.json()["active"] is False
    assert api.get("/v1/pack", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_key_revoked_elsewhere_stops_working_once_the_cache_expires(api: Api) -> None:
    api.runtime.key_cache.ttl = 0.2
    secret = api.add_key("revoked by cli", Role.screener)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/v1/pack", headers=headers).status_code == 200
    keys = ApiKeyRepository(api.runtime.database)
    keys.revoke(keys.list()[-1].id)  # as `screening keys revoke` does, behind the app's back
    assert api.get("/v1/pack", headers=headers).status_code == 200  # still cached
    time.sleep(0.3)
    assert api.get("/v1/pack", headers=headers).status_code == 401


def test_keys_created_over_http_work_and_are_shown_once(api: Api) -> None:
    created = api.post("/v1/keys", role="admin", json={"name": "warehouse scanner", "role": "screener"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"]["created_by"].startswith("key:")
    secret = body["secret"]
    assert api.post("/v1/screen", json=clear_record(), headers={"Authorization": f"Bearer {secret}"}
                    ).status_code == 200
    listed = api.get("/v1/keys", role="admin").json()
    assert secret not in str(listed)
    assert any(k["prefix"] == body["key"]["prefix"] and k["role"] == "screener" for k in listed)
    assert [k for k in api.get("/v1/keys?include_revoked=false", role="admin").json() if not k["active"]] == []


def test_revoking_an_unknown_key_is_404(api: Api) -> None:
    response = api.post("/v1/keys/99999/revoke", role="admin")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_auth_disabled_lets_anyone_in_and_says_so_loudly(make_api: Callable[..., Api],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="service.api.app"):
        api = make_api(auth="disabled", with_keys=False)
    assert any("AUTHENTICATION IS DISABLED" in r.getMessage() for r in caplog.records)
    screened = api.post("/v1/screen", json=clear_record())
    assert screened.status_code == 200
    assert api.post("/v1/pack/reload").status_code == 200
    logged = api.get(f"/v1/screenings/{screened.json()['screening_id']}").json()
    assert logged["api_key_id"] is None
    # No key is created on a server that does not check keys.
    assert ApiKeyRepository(api.runtime.database).list() == []


def test_first_start_creates_and_prints_one_admin_key(make_api: Callable[..., Api], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    api = make_api(with_keys=False)
    printed = capsys.readouterr().err
    line = next(line for line in printed.splitlines() if line.startswith("First admin API key"))
    secret = line.rsplit(" ", 1)[-1]
    assert api.get("/v1/keys", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    keys = ApiKeyRepository(api.runtime.database).list()
    assert [(k.role, k.created_by) for k in keys] == [(Role.admin, "bootstrap")]


def test_key_changes_are_in_the_audit_trail(api: Api) -> None:
    from service.review.audit import list_audit

    created = api.post("/v1/keys", role="admin", json={"name": "erp", "role": "screener"}).json()
    api.post(f"/v1/keys/{created['key']['id']}/revoke", role="admin")
    actions = [(e.action, e.object_id) for e in list_audit(api.runtime.database, object_type="api_key")]
    assert ("key.create", str(created["key"]["id"])) in actions
    assert ("key.revoke", str(created["key"]["id"])) in actions
