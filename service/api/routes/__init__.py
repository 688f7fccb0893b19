"""One router per resource, each with its prefix and tags."""

from service.api.routes import alerts, audit, health, keys, pack, rescreen, screen, screenings

ROUTERS = [screen.router, screenings.router, pack.router, keys.router, alerts.router, audit.router, rescreen.router,
           health.router]

__all__ = ["ROUTERS"]
