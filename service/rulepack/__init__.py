"""The rule pack: YAML specs, loading with validation, and the compiled runtime objects."""

from service.rulepack.compiled import CURATED_LIST, Pack, PartyList
from service.rulepack.load import load_pack

__all__ = ["CURATED_LIST", "Pack", "PartyList", "load_pack"]
