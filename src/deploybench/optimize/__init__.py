"""Optimization without a runtime: the calibration and evaluation rows (disjoint, seeded, recorded) and the
content-addressed store of optimized models with their recipes. The optimizing itself is the frameworks' own
tools, run by a worker through each backend."""
