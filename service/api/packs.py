"""The pack serving requests, and swapping it for a new one without disturbing requests in flight.

A request takes ``holder.current`` once, at its start, and uses that (pack, screener) pair to the end.
A reload builds the new pair completely in a worker thread, then replaces the reference in one assignment,
so a request sees either the old pair or the new one, never a mix, and an invalid pack never replaces a
valid one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from service.engine import Screener
from service.lists.loading import load_configured_pack as load_pack_and_lists
from service.rulepack import Pack
from service.settings import Settings

log = logging.getLogger(__name__)

PackLoader = Callable[[], Pack]


def load_configured_pack(settings: Settings) -> Pack:
    """Load and validate the pack and the imported lists the settings name, as every screening command
    does (raises PackError listing every problem, including a configured list never imported)."""
    return load_pack_and_lists(settings)


@dataclass(frozen=True)
class LoadedPack:
    """A pack and the screener built from it, always replaced together."""

    pack: Pack
    screener: Screener

    @classmethod
    def build(cls, pack: Pack) -> LoadedPack:
        """Compile the screener's indexes for ``pack`` (about a second for the bundled pack)."""
        return cls(pack, Screener(pack))


class PackHolder:
    """Holds the current (pack, screener) pair; reloads are serialised, reads never wait."""

    def __init__(self, current: LoadedPack, loader: PackLoader) -> None:
        self._current = current
        self._loader = loader
        self._reload_lock = threading.Lock()
        #: Called after a swap, in the reloading thread (the app uses it to re-freeze the collector).
        self.after_swap: Callable[[], None] | None = None

    @property
    def current(self) -> LoadedPack:
        return self._current

    def reload(self) -> tuple[LoadedPack, LoadedPack]:
        """Load the pack from disk, build its screener and swap it in; returns (previous, current).

        Blocking (run it in a thread). On PackError nothing changes and the error propagates.
        """
        with self._reload_lock:
            fresh = LoadedPack.build(self._loader())
            previous = self._current
            self._current = fresh
            if self.after_swap is not None:
                self.after_swap()
        log.info("pack swapped in", extra={"pack_version": fresh.pack.info.version,
                                           "pack_digest": fresh.pack.info.digest,
                                           "previous_digest": previous.pack.info.digest})
        return previous, fresh
