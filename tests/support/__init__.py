"""Helpers shared by the tests: generated models and fake backends."""
