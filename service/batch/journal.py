"""The journal: a small JSON file next to the output recording how far a run got, so ``--resume`` can finish
it with no row lost or duplicated.

After each chunk the coordinator appends the chunk's output to the temporary files, flushes and fsyncs
them, and only then rewrites the journal (temporary name, fsync, rename). The journal therefore never
claims more than the files hold; on resume every temporary file is truncated back to the size the journal
recorded and reading restarts at the recorded input position. Results carry ``screened_at``; a run fixes one
timestamp for all its results and keeps it here, so the resumed part is stamped like the rest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from service.batch.worker import ChunkStats
from service.errors import BatchError

JOURNAL_VERSION = 1


@dataclass
class Journal:
    """Where a run stands: identity (what it screens, with which pack and settings) and progress."""

    run_id: str
    screened_at: datetime
    started_at: datetime
    pack: dict[str, str]
    inputs: list[dict[str, Any]]
    settings: dict[str, Any]
    input_index: int = 0
    offset: int = 0
    row: int = 0
    line: int = 0
    chunks_done: int = 0
    outputs: dict[str, int] = field(default_factory=dict)
    stats: ChunkStats = field(default_factory=ChunkStats)
    elapsed_seconds: float = 0.0
    attempts: int = 1
    phase: Literal["running", "finalizing"] = "running"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JOURNAL_VERSION, "run_id": self.run_id, "screened_at": self.screened_at.isoformat(),
            "started_at": self.started_at.isoformat(), "pack": self.pack, "inputs": self.inputs,
            "settings": self.settings,
            "position": {"input": self.input_index, "offset": self.offset, "row": self.row, "line": self.line},
            "chunks_done": self.chunks_done, "outputs": self.outputs, "stats": self.stats.to_json(),
            "elapsed_seconds": round(self.elapsed_seconds, 3), "attempts": self.attempts, "phase": self.phase,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Journal:
        if data.get("version") != JOURNAL_VERSION:
            raise ValueError(f"journal version {data.get('version')!r}, expected {JOURNAL_VERSION}")
        position = data["position"]
        return cls(
            run_id=str(data["run_id"]), screened_at=datetime.fromisoformat(data["screened_at"]),
            started_at=datetime.fromisoformat(data["started_at"]), pack=dict(data["pack"]),
            inputs=list(data["inputs"]), settings=dict(data["settings"]), input_index=int(position["input"]),
            offset=int(position["offset"]), row=int(position["row"]), line=int(position["line"]),
            chunks_done=int(data["chunks_done"]), outputs={k: int(v) for k, v in data["outputs"].items()},
            stats=ChunkStats.from_json(data["stats"]), elapsed_seconds=float(data["elapsed_seconds"]),
            attempts=int(data["attempts"]), phase=data["phase"],
        )


def read_journal(path: Path) -> Journal:
    """The journal at ``path``; BatchError naming the file when it cannot be used."""
    try:
        return Journal.from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise BatchError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BatchError(f"journal {path} is damaged ({exc}); delete it and the run starts over") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader (or a crash) sees the old or the new content, never
    a mix: write a temporary file in the same folder, fsync it, rename it, fsync the folder."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def write_journal(path: Path, journal: Journal) -> None:
    write_atomically(path, json.dumps(journal.to_json(), ensure_ascii=False, indent=1).encode("utf-8"))


def fsync_directory(folder: Path) -> None:
    """Make renames in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
