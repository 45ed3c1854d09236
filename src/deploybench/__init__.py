"""deploybench: benchmark where and how an ML model deploys on embedded and edge targets.

Importing this package loads no ML runtime and no catalog: subpackages are imported on use.
"""

__version__ = "0.1.0"
