"""The rule pack and imported official lists of a batch run, loaded exactly as ``screen`` and ``serve`` load
them (``service.lists.loading``): the pack at ``--pack`` or ``SCREENING_PACK_PATH``, with the lists
``SCREENING_IMPORTED_LISTS`` names (default: the pack's ``imported_lists``) from ``SCREENING_DATA_DIR/lists/``.

The coordinator loads them once and sends the loaded pack to every worker (local or Dask), so all chunks
are screened with the same data and workers need no access to the pack's files. A run is identified by the
pack digest, which covers the imported lists loaded with it, so a list re-imported between an interrupted run
and its resumption is noticed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from service.errors import BatchError, ListImportError

if TYPE_CHECKING:
    from service.rulepack import Pack
    from service.settings import Settings


def load_run_pack(settings: Settings, pack_path: Path | None = None) -> Pack:
    """The pack and lists the settings name (``pack_path`` overriding ``SCREENING_PACK_PATH``): what
    ``service.lists.loading.load_configured_pack`` loads for ``screen`` and ``serve``.

    PackError lists the problems of the pack (a configured list never imported is one of them); BatchError
    says when a compiled list cannot be read.
    """
    from service.lists.loading import load_configured_pack

    try:
        return load_configured_pack(settings, pack_path)
    except (ListImportError, OSError) as exc:
        raise BatchError(f"cannot load an imported list: {exc}") from None
