"""The evidence store: one read-only file per content hash,
``<dir>/<aa>/<sha256>`` (``aa`` being the hash's first two characters, so no
directory grows past a few thousand files).

The directory is ``DUBAN_EVIDENCE_DIR``, else ``evidence/`` in the var
directory (``var/evidence``). It is never served as static files: downloads go
through the app, which checks who may see the finding first. A file is written
to a temporary file beside its final place and renamed into it, so a reader
never sees half a file; the same bytes stored twice are stored once.

No Flask here: the web, the API and a worker may all use it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from domain.attachments import SHA256_HEX
from workers.files import configured_directory, write_once

DIRECTORY_VARIABLE = "DUBAN_EVIDENCE_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
#: Folders a web server or the app might serve as they are: evidence never goes there.
SERVED_FOLDER_NAMES = frozenset({"templates", "static"})


class UnsafeEvidenceDirectory(ValueError):
    """The configured directory is one the web could serve as it is."""


class EvidenceStore:
    def __init__(self, directory: Path | str):
        directory = Path(directory).resolve()
        if SERVED_FOLDER_NAMES & set(directory.parts) or directory.is_relative_to(REPO_ROOT / "templates"):
            raise UnsafeEvidenceDirectory(f"evidence must not be kept under a served folder: {directory}")
        self.directory = directory

    @classmethod
    def from_env(cls) -> EvidenceStore:
        return cls(configured_directory(DIRECTORY_VARIABLE, "evidence"))

    def path(self, sha256: str) -> Path:
        """Where the file of this hash is (or would be); anything but a sha256 is refused."""
        if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.directory / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store the bytes under their sha256 (once) and return it."""
        sha256 = hashlib.sha256(data).hexdigest()
        write_once(self.path(sha256), data)
        return sha256

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name: a damaged file is not served."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DamagedEvidence(sha256)
        return data


class DamagedEvidence(OSError):
    """The file under a hash no longer has that hash (disk damage or tampering)."""
