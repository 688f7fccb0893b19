"""The pack together with the imported official lists it screens with, as every screening command loads it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from service.errors import PackError, Problem
from service.lists.storage import compiled_path, load_compiled_list
from service.rulepack import Pack, load_pack
from service.rulepack.load import read_pack_spec
from service.settings import Settings


def load_pack_with_lists(pack_path: Path, data_dir: Path, names: Sequence[str] | None = None) -> Pack:
    """Load the pack and the compiled lists ``names`` (default: the pack's ``imported_lists``).

    A list that was never imported is an error naming the list and the command that imports it, so a
    screening never runs silently without a list it was configured to use.
    """
    wanted = list(read_pack_spec(pack_path).imported_lists if names is None else names)
    extra = []
    problems: list[Problem] = []
    for name in wanted:
        path = compiled_path(data_dir, name)
        if not path.is_file():
            problems.append(Problem("pack.yaml", name, "imported_lists",
                                    f"list not imported: run `screening lists import` for it ({path} is missing)"))
            continue
        extra.append(load_compiled_list(path).to_party_list())
    if problems:
        raise PackError(problems)
    return load_pack(pack_path, extra)


def load_configured_pack(settings: Settings, pack_path: Path | None = None) -> Pack:
    """The pack and lists the settings name (SCREENING_PACK_PATH, SCREENING_IMPORTED_LISTS, data_dir)."""
    return load_pack_with_lists(pack_path or settings.pack_path, settings.data_dir, settings.imported_lists)
