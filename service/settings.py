"""Settings of the service, read from the environment (prefix ``SCREENING_``) once at the edge.

Build one ``Settings`` in the command or app factory and pass it down; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_PACK = Path(__file__).resolve().parent.parent / "rules"


def default_data_dir() -> Path:
    return Path(user_data_dir("drone-screening", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCREENING_", extra="ignore")

    pack_path: Path = Field(BUNDLED_PACK, description="Folder of the rule pack (pack.yaml inside).")
    data_dir: Path = Field(default_factory=default_data_dir,
                           description="Folder for the SQLite store and imported lists.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the store; default: a SQLite file in data_dir.")
    auth: Literal["enabled", "disabled"] = Field(
        "enabled", description="'disabled' turns API-key checks off (local development only).")
    max_batch_records: int = Field(1000, ge=1, description="Most records accepted by POST /v1/screen/batch.")
    max_body_bytes: int = Field(5_000_000, ge=1024, description="Largest request body accepted, in bytes.")
    log_clear_records: bool = Field(
        True, description="Store the full record of clear screenings too (flagged ones are always stored).")
    list_max_age_days: int = Field(7, ge=1, description="Imported lists older than this make /readyz warn.")
    log_level: str = Field("INFO", description="Python log level of the service's JSON logs.")
    imported_lists: list[str] | None = Field(
        None, description="Imported official lists to screen with, as a JSON array of list names "
                          "(default: the pack's imported_lists; [] for none).")

    login_max_failures: int = Field(5, ge=1, description="Failed logins in a row that lock a user out.")
    login_lockout_minutes: int = Field(15, ge=1, description="How long a locked-out user must wait.")
    session_hours: int = Field(12, ge=1, description="How long a UI login lasts.")
    allow_list_days: int = Field(365, ge=1, description="Default lifetime of an allow-list entry, in days.")

    def resolved_database_url(self) -> str:
        """The store URL: the configured one, or a SQLite file inside data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'screening.sqlite3'}"
