"""Frozen pydantic schemas of the catalogs: targets, frameworks and model cards."""

from deploybench.catalog.schemas.base import CatalogEntry, Range, Record, Source
from deploybench.catalog.schemas.framework import Framework
from deploybench.catalog.schemas.model import ModelCard
from deploybench.catalog.schemas.target import Target

__all__ = ["CatalogEntry", "Framework", "ModelCard", "Range", "Record", "Source", "Target"]
