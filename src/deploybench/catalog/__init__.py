"""What the bench knows: hardware targets, deployment frameworks and reference models.

The Python API mirrors `deploybench catalog`::

    from deploybench.catalog import load_catalog, parse_condition, select
    catalog = load_catalog()
    cheap = select(catalog, "targets", [parse_condition("power_w<=10")], sort=["price_usd"])
"""

from deploybench.catalog.catalog import Catalog, load_catalog, validate_directory
from deploybench.catalog.matrix import SupportMatrix, support_matrix
from deploybench.catalog.query import Condition, QueryResult, parse_condition, select
from deploybench.catalog.schemas import Framework, ModelCard, Target

__all__ = [
    "Catalog",
    "Condition",
    "Framework",
    "ModelCard",
    "QueryResult",
    "SupportMatrix",
    "Target",
    "load_catalog",
    "parse_condition",
    "select",
    "support_matrix",
    "validate_directory",
]
