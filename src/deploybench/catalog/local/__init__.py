"""The machine deploybench runs on, detected at run time and seen as a catalog target."""

from deploybench.catalog.local.detect import LocalMachine, detect_local_machine, fingerprint_of

__all__ = ["LocalMachine", "detect_local_machine", "fingerprint_of"]
