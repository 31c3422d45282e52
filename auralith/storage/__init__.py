"""Where bytes live: local paths and `s3://bucket/key` URLs behind one small interface.

`Files` (auralith/storage/files.py) does every read and write, bound to one job's `storage` settings and
passed explicitly to what needs it; `is_url` and `join` build paths that may be URLs. See files.py for why
the settings travel with the object.
"""

from __future__ import annotations

from auralith.config.storage import StorageConfig
from auralith.storage.base import Storage
from auralith.storage.files import DEFAULT_FILES, Files
from auralith.storage.paths import is_url, join

__all__ = ["DEFAULT_FILES", "Files", "Storage", "StorageConfig", "is_url", "join"]
