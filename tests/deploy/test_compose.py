"""docker/compose.yaml, docker/env.example and docker/nightly.sh: valid against the Compose specification, lint
clean, consistent with the image and the settings, and the nightly script's schedule handling."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.settings import Settings
from tests.deploy.dockerfile import ROOT, parse_dockerfile

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
NIGHTLY = DOCKER / "nightly.sh"
ENV_EXAMPLE = DOCKER / "env.example"
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 200}, document-start: disable}}"
APP_SERVICES = ("migrate", "api", "nightly")


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(str(Path(sys.prefix) / "bin" / name))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the << merges
    return data


def _nightly_variables() -> set[str]:
    return set(re.findall(r"\b(SCREENING_NIGHTLY_\w+)", NIGHTLY.read_text(encoding="utf-8")))


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_compose_file_follows_the_compose_specification() -> None:
    done = _check_compose_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_schema_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("depends_on:", "depend_on:", 1), encoding="utf-8")
    done = _check_compose_schema(broken)
    assert done.returncode != 0
    assert "depend_on" in done.stdout


def test_yaml_files_pass_yamllint() -> None:
    done = subprocess.run([_tool("yamllint"), "-s", "-d", YAMLLINT_CONFIG, str(COMPOSE)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    done = subprocess.run([_tool("shellcheck"), str(NIGHTLY), str(DOCKER / "install.sh")], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_service_settings_are_real_settings(compose: dict[str, Any]) -> None:
    """A misspelt SCREENING_ variable would be ignored silently by the service (extra='ignore')."""
    fields = {f"SCREENING_{name.upper()}" for name in Settings.model_fields}
    known = fields | _nightly_variables()
    for name in APP_SERVICES:
        variables = {v for v in compose["services"][name]["environment"] if v.startswith("SCREENING_")}
        assert variables <= known, f"{name}: unknown {sorted(variables - known)}"
        assert compose["services"][name]["environment"]["SCREENING_AUTH"] == "enabled"
        assert compose["services"][name]["environment"]["SCREENING_DATABASE_URL"].startswith(
            "postgresql+psycopg://screening:")


def _mount_parts(volume: str) -> list[str]:
    """SOURCE:TARGET[:MODE] of a short volume syntax, with ${...} interpolations kept whole."""
    parts = re.findall(r"(?:\$\{[^}]*\}|[^:])+", volume)
    return parts


def test_app_services_share_one_image_the_pack_and_the_data(compose: dict[str, Any]) -> None:
    _, stages = parse_dockerfile()
    pack_path = stages[-1].environment()["SCREENING_PACK_PATH"]
    services = compose["services"]
    declared = set(compose["volumes"])
    for name in APP_SERVICES:
        service = services[name]
        assert service["image"] == services["api"]["image"]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        targets = {_mount_parts(volume)[1]: volume for volume in service["volumes"]}
        assert targets[pack_path].endswith(":ro")
        assert str(Path(pack_path).parent / "seeds") in targets
        assert targets["/var/lib/screening"].startswith("screening-data:")
        for volume in service["volumes"]:
            source = _mount_parts(volume)[0]
            if not source.startswith(("$", ".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    assert services["db"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "ports" not in services["db"]


def test_migrations_run_before_the_api_and_the_nightly_job(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "nightly"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_migrate_command_creates_the_store(compose: dict[str, Any], tmp_path: Path) -> None:
    """The migrate service's command, run here against a SQLite file instead of the compose PostgreSQL."""
    command = compose["services"]["migrate"]["command"]
    assert command[:2] == ["python", "-c"]
    database = tmp_path / "store.sqlite3"
    environment = {**os.environ, "SCREENING_DATABASE_URL": f"sqlite:///{database}"}
    done = subprocess.run([sys.executable, *command[1:]], env=environment, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "alembic_version" in tables
    assert len(tables) > 3


def test_api_command_is_the_image_command_on_port_8000(compose: dict[str, Any]) -> None:
    _, stages = parse_dockerfile()
    image_command = stages[-1].all("CMD")[-1].exec_form()
    assert compose["services"]["api"]["command"] == [*image_command, "--port", "8000"]
    assert compose["services"]["api"]["ports"] == ["${SCREENING_PUBLISH:-127.0.0.1:8000}:8000"]
    assert compose["services"]["nightly"]["command"] == ["screening-nightly"]


def test_env_example_names_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text(encoding="utf-8")))
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*(\w+)=", example, flags=re.MULTILINE))
    assert used <= documented, f"not in env.example: {sorted(used - documented)}"
    assert documented <= used, f"env.example names variables compose.yaml never reads: {sorted(documented - used)}"


def _nightly(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCREENING_")}
    environment.update(variables)
    return subprocess.run(["bash", str(NIGHTLY), *args], env=environment, capture_output=True, text=True,
                          timeout=30, check=False)


@pytest.mark.parametrize(("variable", "value"), [("SCREENING_NIGHTLY_AT", "24:00"), ("SCREENING_NIGHTLY_AT", "1:30"),
                                                 ("SCREENING_NIGHTLY_AT", "01:30 "),
                                                 ("SCREENING_NIGHTLY_FAIL_ON", "clear"),
                                                 ("SCREENING_NIGHTLY_RUN_AT_START", "yes")])
def test_nightly_refuses_a_bad_setting(variable: str, value: str) -> None:
    done = _nightly("next", **{variable: value})
    assert done.returncode == 2
    assert variable in done.stderr
    assert repr(value).strip("'") in done.stderr


def test_nightly_next_run_is_the_next_occurrence_of_the_time() -> None:
    done = _nightly("next", SCREENING_NIGHTLY_AT="03:17", TZ="UTC")
    assert done.returncode == 0, done.stderr
    next_run = datetime.strptime(done.stdout.strip(), "%Y-%m-%dT%H:%M:%S%z")
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 17, 0)
    now = datetime.now(next_run.tzinfo)
    assert now < next_run <= now + timedelta(days=1)


def test_nightly_without_inputs_reports_failure_in_its_metrics(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("not an export\n", encoding="utf-8")
    done = _nightly("once", SCREENING_NIGHTLY_INPUT_DIR=str(tmp_path / "in"),
                    SCREENING_NIGHTLY_OUTPUT_DIR=str(tmp_path / "out"))
    assert done.returncode == 2
    assert "no input matches" in done.stderr
    metrics = (tmp_path / "out" / "nightly.prom").read_text(encoding="utf-8")
    assert re.search(r'^screening_nightly_last_exit_code\{day="\d{4}-\d{2}-\d{2}"\} 2$', metrics, re.MULTILINE)


def test_nightly_rejects_an_unknown_command() -> None:
    assert _nightly("weekly").returncode == 2
