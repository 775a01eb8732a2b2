"""HTTP entry point: FastAPI under /v1."""
