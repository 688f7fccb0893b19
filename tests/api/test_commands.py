"""``screening keys create|list|revoke`` and ``screening serve`` (a real server process on loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from service.api.commands import register
from service.settings import Settings
from service.store import ApiKeyRepository, ScreeningFilter, ScreeningRepository, open_database
from tests.api.conftest import ROOT, clear_record


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": ""}


def test_keys_create_list_revoke(cli: typer.Typer, env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--role", "screener", "--name", "order system"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("scr_")
    assert "not shown again" in created.stderr

    database = open_database(Settings(data_dir=Path(env["SCREENING_DATA_DIR"])).resolved_database_url())
    try:
        key = ApiKeyRepository(database).authenticate(secret)
        assert key is not None
        assert key.created_by == "cli"

        listed = runner.invoke(cli, ["keys", "list"], env=env)
        assert listed.exit_code == 0
        assert key.prefix in listed.stdout
        assert "order system" in listed.stdout
        assert secret not in listed.stdout

        revoked = runner.invoke(cli, ["keys", "revoke", str(key.id)], env=env)
        assert revoked.exit_code == 0
        assert ApiKeyRepository(database).authenticate(secret) is None
        as_json = [json.loads(line) for line in
                   runner.invoke(cli, ["keys", "list", "--json"], env=env).stdout.splitlines()]
        assert as_json[0]["revoked_at"] is not None
        assert runner.invoke(cli, ["keys", "list", "--active", "--json"], env=env).stdout.strip() == ""
    finally:
        database.dispose()


def test_keys_errors_are_clear(cli: typer.Typer, env: dict[str, str]) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["keys", "revoke", "42"], env=env)
    assert unknown.exit_code == 1
    assert "no API key with id 42" in unknown.stderr
    bad_role = runner.invoke(cli, ["keys", "create", "--role", "king", "--name", "x"], env=env)
    assert bad_role.exit_code == 2
    blank = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", " "], env=env)
    assert blank.exit_code == 1
    assert "name" in blank.stderr
    unreachable = runner.invoke(cli, ["keys", "list"], env={
        **env, "SCREENING_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"})
    assert unreachable.exit_code == 1
    assert "store failed" in unreachable.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"server exited with {process.returncode}: {output}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


SERVE = "from service.api.commands import register; import typer; app = typer.Typer(); register(app); app()"


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_quick_start(tmp_path: Path, workers: int) -> None:
    """First start prints an admin key once; it works; a clean stop loses no screening."""
    port = _free_port()
    environment = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": "",
                   "SCREENING_PACK_PATH": str(ROOT / "rules"), "SCREENING_AUTH": "enabled"}
    command = [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        assert process.stderr is not None
        lines: list[str] = []
        while not any(line.startswith("First admin API key") for line in lines):
            lines.append(process.stderr.readline())
        secret = lines[-1].strip().rsplit(" ", 1)[-1]
        headers = {"Authorization": f"Bearer {secret}"}
        responses = [httpx.post(url + "/v1/screen", json=clear_record(f"serve-{i}"), headers=headers, timeout=30)
                     for i in range(20)]
        assert [r.status_code for r in responses] == [200] * 20
        assert responses[0].headers["x-request-id"]
        assert httpx.post(url + "/v1/screen", json=clear_record()).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    log_lines = [json.loads(line) for line in lines + err.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("no API key existed") for line in log_lines)
    assert sum(1 for line in (lines + err.splitlines()) if line.startswith("First admin API key")) == 1
    requests = [line for line in log_lines if line["logger"] == "service.api.access"]
    assert all(line.get("request_id") for line in requests)
    database = open_database(Settings(data_dir=tmp_path / "data").resolved_database_url())
    try:
        assert len(ApiKeyRepository(database).list()) == 1
        assert len(ScreeningRepository(database).list(ScreeningFilter(), limit=100)) == 20
    finally:
        database.dispose()


def test_serve_refuses_an_invalid_pack(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    environment = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"),
                   "SCREENING_PACK_PATH": str(tmp_path / "pack"), "SCREENING_DATABASE_URL": ""}
    result = subprocess.run([sys.executable, "-c", SERVE, "serve", "--port", str(_free_port())], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "no pack.yaml" in result.stderr
