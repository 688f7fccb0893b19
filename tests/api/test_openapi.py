"""The app against its own OpenAPI document: schemathesis generates requests for every operation (a bounded,
deterministic number) and checks that no answer is a server error or breaks the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
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


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every documented operation: valid data for all, and data breaking the schema
    for those with parameters or a body to break. Building the app does no work until it starts."""
    document = create_app(Settings(data_dir=Path("unused"))).openapi()
    out = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            out.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                out.append((method.upper(), path, GenerationMode.NEGATIVE))
    return out


# The bar: no server error, and every answer documented and shaped as documented; ignored_auth also proves
# that each operation declaring the API key refuses requests without it. (negative_data_rejection is left
# out on purpose: the record contract accepts numbers where text is expected, e.g. an HS code or IMO
# number written as a number, and unknown query parameters are ignored, as HTTP APIs usually do.)
CHECKS = [schemathesis.checks.not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance, response_headers_conformance, ignored_auth]


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_api_honours_its_openapi_document(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    """30 generated requests per operation and mode, with a fixed seed."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY['secret']}"}, checks=CHECKS)

    check()


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
