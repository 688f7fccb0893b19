"""The officers' web UI under ``/ui``: server-rendered pages over the review service layer.

``install_review_ui(app)`` adds the pages and the two exception handlers they rely on (login redirect and
CSRF refusal) to an app built by ``service.api.create_app``.
"""

from service.review.web.routes import install_review_ui, router

__all__ = ["install_review_ui", "router"]
