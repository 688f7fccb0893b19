"""``screening users add|disable|reset|list`` and ``screening audit export`` on a real SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from service.review.commands import register
from service.review.users import authenticate
from service.settings import Settings
from service.store import open_database

PASSWORD = "correct horse battery"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_DATABASE_URL": ""}


def _login(env: dict[str, str], password: str) -> object:
    settings = Settings(data_dir=Path(env["SCREENING_DATA_DIR"]))
    database = open_database(settings.resolved_database_url())
    try:
        return authenticate(database, settings, "rita", password)
    finally:
        database.dispose()


def test_users_add_disable_reset(cli: typer.Typer, env: dict[str, str]) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password-stdin"],
                          input=PASSWORD + "\n", env=env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["roles"] == ["reviewer"]
    assert _login(env, PASSWORD).__class__.__name__ == "User"
    again = runner.invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password-stdin"],
                          input=PASSWORD + "\n", env=env)
    assert again.exit_code == 1 and "taken" in again.output
    assert runner.invoke(cli, ["users", "disable", "rita"], env=env).exit_code == 0
    assert str(_login(env, PASSWORD)) == "invalid"
    reset = runner.invoke(cli, ["users", "reset", "rita", "--password-stdin", "--role", "approver"],
                          input="another long passphrase\n", env=env)
    assert reset.exit_code == 0, reset.output
    assert json.loads(reset.output)["roles"] == ["approver"]
    listed = [json.loads(line) for line in runner.invoke(cli, ["users", "list"], env=env).output.splitlines()]
    assert [(u["username"], u["active"]) for u in listed] == [("rita", True)]
    assert runner.invoke(cli, ["users", "disable", "nobody"], env=env).exit_code == 1


def test_short_password_is_refused(cli: typer.Typer, env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password-stdin"],
                                input="short\n", env=env)
    assert result.exit_code == 1 and "password" in result.output


def test_audit_export_csv_and_json(cli: typer.Typer, env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["users", "add", "=rita", "--role", "reviewer", "--password-stdin"], input=PASSWORD + "\n",
                  env=env)
    exported = runner.invoke(cli, ["audit", "export", "--since", "2000-01-01"], env=env)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [r["action"] for r in rows] == ["user.create"]
    assert json.loads(rows[0]["after"])["username"] == "=rita"  # JSON cells start with '{': harmless
    target = tmp_path / "audit.json"
    as_json = runner.invoke(cli, ["audit", "export", "--since", "2000-01-01", "--format", "json", "-o",
                                  str(target)], env=env)
    assert as_json.exit_code == 0, as_json.output
    assert [e["action"] for e in json.loads(target.read_text())] == ["user.create"]
    assert json.loads(runner.invoke(cli, ["audit", "export", "--since", "2999-01-01", "--format", "json"],
                                    env=env).output) == []
    bad = runner.invoke(cli, ["audit", "export", "--since", "yesterday"], env=env)
    assert bad.exit_code == 1 and "--since" in bad.output
