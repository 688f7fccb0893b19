"""Loading the rule pack with its imported official lists, the same way in the coordinator and in workers.

``pack.yaml`` names the compiled lists to screen alongside the curated one (``imported_lists``); they are
read from ``<data_dir>/lists/`` (written by ``screening lists import``). A run is identified by the pack
digest together with the digests of those lists, so a list re-imported between an interrupted run and its
resumption is noticed, and a worker holding other data refuses to screen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from service.errors import BatchError, ListImportError

if TYPE_CHECKING:
    from service.engine import Screener
    from service.rulepack import Pack


def imported_list_paths(pack_path: Path, data_dir: Path) -> tuple[Path, ...]:
    """The compiled list files ``pack.yaml`` asks for; BatchError when one was never imported.

    A ``pack.yaml`` that cannot be read gives no paths here: loading the pack then reports it properly.
    """
    from service.lists import compiled_path
    from service.rulepack.spec import PackSpec

    try:
        spec = PackSpec.model_validate(yaml.safe_load((Path(pack_path) / "pack.yaml").read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError, UnicodeDecodeError):
        return ()
    paths = []
    for name in spec.imported_lists:
        path = compiled_path(data_dir, name)
        if not path.is_file():
            raise BatchError(f"the pack screens against list {name!r}, which has not been imported (no {path}); "
                             "run 'screening lists import' first")
        paths.append(path)
    return tuple(paths)


def load_batch_pack(pack_path: Path, list_paths: Sequence[Path]) -> Pack:
    """Load the pack with the compiled lists at ``list_paths``; PackError or BatchError when unusable."""
    from service.lists import load_compiled_list
    from service.rulepack import load_pack

    try:
        extra = [load_compiled_list(path).to_party_list() for path in list_paths]
    except (ListImportError, OSError) as exc:
        raise BatchError(f"cannot load an imported list: {exc}") from None
    return load_pack(pack_path, extra)


def screening_digest(pack: Pack) -> str:
    """The pack digest combined with the digests of the imported lists loaded with it."""
    if not pack.list_digests:
        return pack.info.digest
    text = pack.info.digest + "".join(f"|{name}={digest}" for name, digest in sorted(pack.list_digests.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def build_screener(pack_path: Path, list_paths: Sequence[Path]) -> tuple[Screener, str]:
    """A screener for the pack and the :func:`screening_digest` it screens with."""
    from service.engine import Screener

    pack = load_batch_pack(pack_path, list_paths)
    return Screener(pack), screening_digest(pack)
