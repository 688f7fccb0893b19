"""The app against its own OpenAPI document: schemathesis generates requests for every operation (a bounded,
deterministic number) and checks that no answer is a server error or breaks the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api import create_app
from service.api.packs import LoadedPack
from service.settings import Settings
from service.store import ApiKeyRepository, Role, open_database
from tests.api.conftest import running

ADMIN_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, loaded_pack: LoadedPack) -> Iterator[Any]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(data_dir=data_dir, max_batch_records=20)
    database = open_database(settings.resolved_database_url())
    ADMIN_KEY["secret"] = ApiKeyRepository(database).create("schemathesis", Role.admin, "test").secret
    database.dispose()
    app = create_app(settings, pack=loaded_pack)
    with ExitStack() as stack:
        # Our own harness runs the lifespan; schemathesis then calls the started app in-process.
        stack.enter_context(running(app))
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_honours_its_openapi_document(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {ADMIN_KEY['secret']}"},
        checks=[schemathesis.checks.not_a_server_error, response_schema_conformance, status_code_conformance,
                content_type_conformance, response_headers_conformance, negative_data_rejection, ignored_auth],
    )


def test_every_operation_documents_its_bodies(tmp_path: Path, loaded_pack: LoadedPack) -> None:
    document = create_app(Settings(data_dir=tmp_path), pack=loaded_pack).openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            assert ok, f"{method} {path} documents no success response"
            content = ok.get("content", {})
            json_schema = content.get("application/json", {}).get("schema", {})
            ref = json_schema.get("$ref") or json_schema.get("items", {}).get("$ref")
            if ref:
                component = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
                assert component.get("examples") or component.get("example"), f"{ref} has no example"
            if "requestBody" in operation:
                body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                component = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
                assert component.get("examples"), f"{body_ref} has no example"
            if path.startswith("/v1/"):
                for status in ("401", "403", "422"):
                    error = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                    assert error.endswith("/ErrorResponse")
