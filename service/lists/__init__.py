"""Official sanctions lists: importers for the published formats, the compiled list files, and diffs.

    compiled = import_list("ofac-sdn", Path("sdn/"))        # read and compile (nothing written)
    save_compiled_list(compiled, settings.data_dir)          # <data_dir>/lists/ofac-sdn.json.gz, atomically
    lists = load_compiled_lists(settings.data_dir, names)    # for load_pack(..., extra_lists=[l.to_party_list()])
    diff = diff_lists(old, new)                              # added / removed / changed entries

Commands (``screening lists import|status|diff``) are in ``service.lists.commands``.
"""

from service.lists.diff import EntryChange, ListDiff, diff_lists
from service.lists.importer import SOURCES, import_list
from service.lists.model import IMPORTER_VERSION, CompiledList, ListMeta, ListName
from service.lists.storage import (
    ListStatus,
    compiled_path,
    list_status,
    load_compiled_list,
    load_compiled_lists,
    read_list_meta,
    save_compiled_list,
    stale_lists,
)

__all__ = [
    "IMPORTER_VERSION",
    "SOURCES",
    "CompiledList",
    "EntryChange",
    "ListDiff",
    "ListMeta",
    "ListName",
    "ListStatus",
    "compiled_path",
    "diff_lists",
    "import_list",
    "list_status",
    "load_compiled_list",
    "load_compiled_lists",
    "read_list_meta",
    "save_compiled_list",
    "stale_lists",
]
