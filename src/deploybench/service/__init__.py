"""The REST service: catalogs, results, artifacts and API tokens over HTTP (FastAPI), for a lab of boards."""
