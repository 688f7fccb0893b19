"""The image's install and start, replayed in a clean virtual environment (this machine has no container engine).

The steps are read from docker/Dockerfile itself: the build stage's COPY instructions fill a temporary build
folder, its RUN line runs there with the image's absolute paths moved under a temporary root, and the runtime
stage's ENV, CMD and HEALTHCHECK start and probe the server. A change to the Dockerfile that breaks the install
or the start therefore fails here. Two differences, on purpose: pip may use its cache (the image sets
PIP_NO_CACHE_DIR to keep layers small), so the test does not download every wheel again, and it skips compiling
the dependencies' bytecode, which only makes the image start faster.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.dockerfile import ROOT, Stage, parse_dockerfile

pytestmark = pytest.mark.slow

INSTALL_TIMEOUT = 600
READY_TIMEOUT = 60
EXAMPLE = ROOT / "tests" / "examples" / "shipment.json"
NETWORK_TROUBLE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                   "No matching distribution found", "Could not find a version that satisfies")


@dataclass
class Image:
    """The image's file system laid out under ``root``: absolute paths of the Dockerfile live below it."""

    root: Path
    runtime: Stage
    environment: dict[str, str]

    def path(self, absolute: str) -> str:
        return str(self.root / absolute.lstrip("/"))


def _host_path(root: Path, value: str) -> str:
    """Move the image's absolute paths (/opt/..., /var/lib/...) under ``root``; leave other words alone."""
    return re.sub(r"(?<![\w$])/(opt|var|batch)(/[\w./-]*)?",
                  lambda m: str(root / m.group(0).lstrip("/")), value)


def _copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _replay_copies(stage: Stage, build: Path) -> None:
    """The stage's COPY instructions from the repository into ``build`` (the stage's WORKDIR)."""
    for instruction in stage.all("COPY"):
        words = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
        *sources, target = words
        for source in sources:
            into = build / target
            destination = into / Path(source).name if target.endswith("/") or len(sources) > 1 else into
            _copy(ROOT / source, destination)


def _clean_environment(root: Path) -> dict[str, str]:
    """The test's environment without this project's virtualenv or any SCREENING_ setting, and a python3 that
    is the interpreter running the tests (the image's is python:3.11)."""
    interpreter_dir = root / "interpreter"
    interpreter_dir.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (interpreter_dir / "python3").symlink_to(base)
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [str(interpreter_dir)] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("SCREENING_", "PIP_NO_CACHE", "VIRTUAL_ENV", "PYTHON"))}
    environment.update(PATH=os.pathsep.join(path), HOME=str(root / "home"))
    return environment


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """Build the image's file system from the Dockerfile's steps; skip when pip cannot reach an index."""
    _, stages = parse_dockerfile()
    build_stage, runtime = stages[0], stages[-1]
    root = tmp_path_factory.mktemp("image")
    environment = _clean_environment(root)
    workdir = build_stage.all("WORKDIR")[-1].arguments
    build = Path(_host_path(root, workdir)) if workdir.startswith(("/opt", "/var")) else root / workdir.lstrip("/")
    build.mkdir(parents=True)
    _replay_copies(build_stage, build)
    for name, value in build_stage.environment().items():
        if name != "PIP_NO_CACHE_DIR":
            environment[name] = value
    # Compiling every dependency's bytecode is for the image's start-up time, not for what this test checks.
    environment["PIP_NO_COMPILE"] = "1"
    for run in build_stage.all("RUN"):
        command = _host_path(root, run.arguments)
        done = subprocess.run(["sh", "-c", command], cwd=build, env=environment, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT, check=False)
        if done.returncode != 0:
            output = done.stdout + done.stderr
            if any(sign in output for sign in NETWORK_TROUBLE):
                pytest.skip(f"pip cannot install from an index here (no network-free install): {output[-500:]}")
            pytest.fail(f"RUN {run.arguments} failed with exit code {done.returncode}:\n{output[-4000:]}")
    for name, value in runtime.environment().items():
        value = value.replace("$PATH", environment["PATH"])
        environment[name] = _host_path(root, value)
    for folder in ("/var/lib/screening", "/batch/input", "/batch/output"):
        Path(_host_path(root, folder)).mkdir(parents=True, exist_ok=True)
    environment["HOME"] = _host_path(root, "/var/lib/screening")
    return Image(root=root, runtime=runtime, environment=environment)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Server:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    stderr: Path


@pytest.fixture(scope="module")
def server(image: Image) -> Iterator[Server]:
    """The image's CMD on a free loopback port, with authentication on and the image's data folder."""
    command = image.runtime.all("CMD")[-1].exec_form()
    assert command[:2] == ["screening", "serve"]
    port = _free_port()
    command = [*command[:command.index("--host")], "--host", "127.0.0.1", "--port", str(port)]
    environment = {**image.environment, "SCREENING_AUTH": "enabled"}
    stderr = image.root / "serve.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(command, env=environment, cwd=image.environment["HOME"],
                                   stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = _get(f"{base_url}/readyz")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.3)
        if status != 200:
            log = stderr.read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"/readyz not 200 within {READY_TIMEOUT} s (last {status}, exit {process.poll()}):\n"
                        f"{log[-4000:]}")
        yield Server(base_url=base_url, port=port, process=process, stderr=stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_installed_server_is_ready_and_serves_the_baked_pack(image: Image, server: Server) -> None:
    status, body = _get(f"{server.base_url}/readyz")
    assert status == 200
    readiness = json.loads(body)
    assert readiness["status"] == "ready"
    assert {"pack", "store"} <= set(readiness["checks"])
    assert set(readiness["checks"].values()) == {"ok"}
    # The store went where the image puts data, not into the per-user folder of the machine.
    assert (Path(image.environment["SCREENING_DATA_DIR"]) / "screening.sqlite3").is_file()


def test_installed_server_requires_the_first_admin_key_it_printed(server: Server) -> None:
    log = server.stderr.read_text(encoding="utf-8")
    match = re.search(r"First admin API key \(store it now, it is not shown again\): (\S+)", log)
    assert match, f"no first key announced:\n{log[-2000:]}"
    assert _get(f"{server.base_url}/v1/pack")[0] == 401
    status, body = _get(f"{server.base_url}/v1/pack", key=match.group(1))
    assert status == 200
    pack = json.loads(body)
    assert pack["name"] == "drone-supply-chain"
    assert pack["counts"]


def test_image_healthcheck_command_follows_readiness(image: Image, server: Server) -> None:
    healthcheck = image.runtime.all("HEALTHCHECK")[-1].arguments
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3:].strip())
    assert any(":8000/readyz" in word for word in probe)
    ready = [word.replace(":8000/", f":{server.port}/") for word in probe]
    assert subprocess.run(ready, env=image.environment, capture_output=True, timeout=30).returncode == 0
    nobody = [word.replace(":8000/", f":{_free_port()}/") for word in probe]
    assert subprocess.run(nobody, env=image.environment, capture_output=True, timeout=30).returncode != 0


def test_nightly_script_screens_the_inputs_into_a_folder_per_day(image: Image, server: Server) -> None:
    """The nightly service's script, run once with the installed package and the server's store."""
    inputs = Path(image.path("/batch/input"))
    outputs = Path(image.path("/batch/output"))
    record = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    (inputs / "shipments.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (inputs / "notes.txt").write_text("not an export\n", encoding="utf-8")
    environment = {**image.environment, "SCREENING_NIGHTLY_INPUT_DIR": str(inputs),
                   "SCREENING_NIGHTLY_OUTPUT_DIR": str(outputs), "SCREENING_NIGHTLY_ARGS": "--workers 1 --store"}
    done = subprocess.run(["bash", str(ROOT / "docker" / "nightly.sh"), "once"], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    day = next(p for p in outputs.iterdir() if p.is_dir())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.name)
    rows = (day / "results.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("record_id,decision")
    assert rows[1].startswith(record["id"] + ",")
    assert (day / "report.html").is_file()
    assert not (day / "results.csv.journal").exists()
    metrics = (outputs / "nightly.prom").read_text(encoding="utf-8")
    assert f'screening_nightly_last_exit_code{{day="{day.name}"}} {done.returncode}' in metrics
