"""Where issued documents' PDFs are kept: one file per content hash,
``<dir>/<sha256>.pdf``, outside the web root.

The directory is ``DUBAN_DOCUMENTS_DIR``, else ``documents/`` in the var
directory (``var/documents``). A file is written aside and linked into place
(atomic: a reader never sees half a file), and never overwritten: the same
bytes have the same name, and a name that exists already is left alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from domain.documents import SHA256_HEX
from workers.files import configured_directory, write_once

DIRECTORY_VARIABLE = "DUBAN_DOCUMENTS_DIR"


class DocumentStore:
    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    @classmethod
    def from_env(cls) -> DocumentStore:
        return cls(configured_directory(DIRECTORY_VARIABLE, "documents"))

    def path(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256 or ""):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.directory / f"{sha256}.pdf"

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store the bytes under their sha256 (once) and return it."""
        sha256 = hashlib.sha256(data).hexdigest()
        write_once(self.path(sha256), data)
        return sha256

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
