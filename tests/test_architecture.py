"""The core (model, rulepack, engine) never imports an adapter framework."""

from __future__ import annotations

import subprocess
import sys

CORE = ["service.model", "service.rulepack", "service.engine", "service.errors"]
FORBIDDEN = ["fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "typer", "dask", "pyarrow"]


def test_core_imports_no_adapter_framework() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
