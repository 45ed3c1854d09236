"""Artifacts (models, optimized models) stored once by SHA-256: written to a temporary file while their hash
and size are checked, then moved into place; nothing half-written or mislabelled is ever kept."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from deploybench.core.errors import ConfigurationError

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactRejected(ConfigurationError):
    """An upload that does not match what it claims, or is too large; `status` is the HTTP status to give."""

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ArtifactStore:
    """A folder of files named by their SHA-256 (`ab/abcdef...`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the artifact of that hash lives (whether or not it is there); refuses anything but a hash."""
        if not SHA256.match(sha256):
            raise ArtifactRejected(
                f"`{sha256[:80]}` is not a SHA-256", 400, hint="name an artifact by its 64 lower-case hex digits"
            )
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the artifact is stored."""
        return self.path(sha256).is_file()

    def upload(self, sha256: str, max_bytes: int) -> Upload:
        """A new upload of the artifact with that hash: write its chunks, then `finish` it."""
        return Upload(self.path(sha256), sha256, max_bytes)


class Upload:
    """One artifact being received: hashed and counted chunk by chunk into a temporary file beside its place."""

    def __init__(self, final: Path, sha256: str, max_bytes: int) -> None:
        self.final = final
        self.sha256 = sha256
        self.max_bytes = max_bytes
        self.size = 0
        self._hasher = hashlib.sha256()
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
        self._scratch = Path(name)
        self._out = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        """Take the next chunk; ArtifactRejected (413) once the upload is over its limit."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.discard()
            raise ArtifactRejected(
                f"artifact {self.sha256} is larger than the {self.max_bytes} bytes allowed",
                413,
                hint="raise the service's --max-upload-mb",
            )
        self._hasher.update(chunk)
        self._out.write(chunk)

    def finish(self) -> bool:
        """Move the file into place if its bytes hash to its name (else ArtifactRejected, 422); whether it was
        new (an artifact already stored is kept as it was)."""
        self._out.close()
        if self._hasher.hexdigest() != self.sha256:
            self.discard()
            raise ArtifactRejected(
                f"the uploaded bytes hash to {self._hasher.hexdigest()}, not {self.sha256}",
                422,
                hint="upload the file under its own SHA-256",
            )
        if self.final.is_file():
            self.discard()
            return False
        os.replace(self._scratch, self.final)
        return True

    def discard(self) -> None:
        """Drop what was received."""
        self._out.close()
        self._scratch.unlink(missing_ok=True)
