"""Where bytes live. Local files for now; every write is atomic (temp file, fsync, rename)."""
