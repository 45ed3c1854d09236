"""Core records shared by every layer: errors, hashing."""
