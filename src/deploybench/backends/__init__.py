"""Deployment frameworks behind one protocol, registered by name (entry points `deploybench.backends`)."""
