"""Orchestration: campaigns of jobs and their resume, and the bundled example model."""
