"""Timing, statistics, stopping rules, fidelity and resource monitors."""
