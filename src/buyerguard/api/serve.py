"""An app factory configured from the environment, for `uvicorn --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime


def app() -> FastAPI:
    """The API without the background scheduler (run `buyerguard scheduler run` beside it)."""
    return create_app(build_runtime(), run_scheduler=False)
