"""The HTTP service: create_app(settings) builds it; only this package imports the web framework."""

from dispatch.api.app import create_app

__all__ = ["create_app"]
