"""Builder functions, one module per family of models; each returns a `Model` (see `base.py`). They run in the
toolchain environment that has torch and the model packages, imported only there."""
