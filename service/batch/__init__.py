"""Batch screening of files (JSONL, CSV, Parquet) on local worker processes or a Dask cluster.

``run_batch(BatchOptions(...), settings)`` runs a job; ``service.batch.commands.register(app)`` adds the
``screening batch`` command. See docs/batch.md for formats, mapping files, resuming and exit codes.
"""

from service.batch.job import BatchOptions, BatchOutcome, ExitCode, PreparedRun, prepare_batch, run_batch
from service.batch.mapping import ColumnMapping, flatten_record, load_mapping, propose_mapping

__all__ = [
    "BatchOptions",
    "BatchOutcome",
    "ColumnMapping",
    "ExitCode",
    "PreparedRun",
    "flatten_record",
    "load_mapping",
    "prepare_batch",
    "propose_mapping",
    "run_batch",
]
