"""What an import produces: a compiled list (metadata plus party entries in the pack's own ``PartySpec``).

Every importer returns a ``CompiledList``. The entries are the same models the curated pack uses, so the
engine screens an official list exactly like the hand-written one; ``to_party_list`` hands it to
``service.rulepack.load_pack``.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from service.rulepack.compiled import PartyList
from service.rulepack.spec import PartySpec

#: Bumped whenever an importer changes what it extracts, so a compiled file says which logic built it.
IMPORTER_VERSION = "1.0.0"


class ListName(StrEnum):
    """Names of the compiled lists, which are also the ids of their ``seeds/`` provenance files."""

    ofac_sdn = "ofac-sdn"
    ofac_cons = "ofac-cons"
    us_csl = "us-csl"
    uk = "uk-sanctions-list"
    un = "un-consolidated"
    eu = "eu-fsf"
    opensanctions = "opensanctions"


class ListMeta(BaseModel):
    """Where a compiled list came from and what it holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="list name, e.g. ofac-sdn; also the seeds/ id its entries cite")
    title: str = Field(description="the publication, in words")
    source_format: str = Field(description="format of the input, e.g. ofac-legacy-csv, un-xml")
    published: date | None = Field(None, description="publication date given by the file; None when the "
                                                     "format carries none (OFAC and CSL CSV)")
    imported_at: datetime
    entry_count: int = Field(ge=0)
    counts_by_type: dict[str, int] = Field(default_factory=dict)
    source_digest: str = Field(description="sha256 over the input files (names and bytes), 'sha256:<hex>'")
    source_files: list[str] = Field(default_factory=list, description="input file names, as hashed")
    importer_version: str = IMPORTER_VERSION
    skipped: dict[str, int] = Field(default_factory=dict,
                                    description="input records not turned into entries, by reason")
    unresolved_countries: dict[str, int] = Field(
        default_factory=dict, description="country names the importer could not map to ISO codes, with counts")


class CompiledList(BaseModel):
    """An imported official list: ``meta`` plus the party entries, ready for the engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meta: ListMeta
    entries: list[PartySpec]

    @property
    def name(self) -> str:
        return self.meta.name

    def to_party_list(self) -> PartyList:
        """The runtime form ``load_pack(..., extra_lists=...)`` takes. Its digest (part of the pack's) names
        the source files and the importer that read them: the same files read by a newer importer may give
        other entries."""
        return PartyList(name=self.meta.name, entries=self.entries,
                         digest=f"{self.meta.source_digest} importer {self.meta.importer_version}")


def count_by_type(entries: list[PartySpec]) -> dict[str, int]:
    """Entries per type (organization, person, vessel), sorted by type name."""
    counts = Counter(str(entry.type) for entry in entries)
    return dict(sorted(counts.items()))
