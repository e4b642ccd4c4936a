"""Writing a content-addressed file once: documents and evidence files are named
by their sha256, so a name, once written, must never change."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_once(final: Path, data: bytes) -> None:
    """Write ``data`` at ``final`` read-only, unless a file is already there.

    The bytes go to a temporary file in the same folder, reach the disk, and are
    then linked to their name: a reader never sees half a file, and a second
    writer of the same name (the same bytes) leaves the first file alone.
    """
    if final.is_file():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, spare = tempfile.mkstemp(prefix=f".{final.name[:12]}.", suffix=".tmp", dir=final.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(spare, 0o444)
        try:
            os.link(spare, final)  # fails if the name exists: never overwritten
        except FileExistsError:
            pass
    finally:
        os.unlink(spare)


def configured_directory(variable: str, default_name: str) -> Path:
    """The folder named by an environment variable, else ``var/<default_name>``."""
    configured = os.environ.get(variable, "").strip()
    if configured:
        return Path(configured)
    from projections.storage import var_dir

    return var_dir() / default_name
