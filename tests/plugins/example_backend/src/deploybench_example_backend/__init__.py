"""An example third-party deploybench backend, found through the entry point `deploybench.backends`."""

from deploybench_example_backend.backend import NumpyBackend

__all__ = ["NumpyBackend"]
__version__ = "0.1.0"
