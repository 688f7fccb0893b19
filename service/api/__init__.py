"""The HTTP screening API: ``create_app(settings)`` builds it; ``screening serve`` runs it."""

from service.api.app import create_app

__all__ = ["create_app"]
