"""``python -m service.batch ...`` runs the batch commands without the full ``screening`` application."""

import typer

from service.batch.commands import batch_app

if __name__ == "__main__":
    typer.main.get_command(batch_app)(prog_name="python -m service.batch")
