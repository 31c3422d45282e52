"""Where a job keeps its files under its work dir, and the job's `Files` that reach them: one class for every
stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auralith.config import JobConfig
from auralith.storage import Files, join


@dataclass(frozen=True)
class WorkPaths:
    """Where one job keeps its intermediate files: `{work_dir}/{job_id}/...` (Paths, or s3:// strings), and
    `files`, the job's storage that reads and writes them (and its inputs and outputs).

    Near dedup's files live under `minhash/`; every stage finds its inputs and outputs here."""

    root: Path | str
    files: Files

    @classmethod
    def for_job(cls, cfg: JobConfig, job_id: str) -> WorkPaths:
        """The job's paths, with a `Files` bound to its config's `storage` settings."""
        return cls(join(cfg.work_dir, job_id), Files(cfg.storage))

    def clean(self, i: int) -> Path | str:
        return join(self.root, "clean", f"{i:05d}.jsonl.zst")

    def hashes(self, i: int) -> Path | str:
        # Plain JSON lines: hex hashes barely compress, and the dedup merge keeps one reader per partition
        # open, which costs a small read buffer instead of a zstd window each.
        return join(self.root, "hashes", f"{i:05d}.jsonl")

    def issues(self, i: int) -> Path | str:
        return join(self.root, "issues", f"{i:05d}.jsonl.zst")

    def removed(self, i: int) -> Path | str:
        return join(self.root, "removed", f"{i:05d}.jsonl.zst")

    def duplicates(self, i: int) -> Path | str:
        """Duplicates tokenize left out of partition i, each with the id it duplicates (only with keep_removed)."""
        return join(self.root, "removed", f"{i:05d}.duplicates.jsonl.zst")

    def hash_index(self, i: int) -> Path | str:
        """Byte offsets into `hashes(i)` where each of the HASH_GRID hash prefixes starts (raw uint64)."""
        return join(self.root, "hashes", f"{i:05d}.idx")

    def exact_drops(self, shard: int) -> Path | str:
        """Node ids (partition << 32 | position, sorted) that the exact-dedup task of one hash range drops."""
        return join(self.root, "dedup", "exact", f"{shard:04d}.npy")

    def exact_kept(self, shard: int) -> Path | str:
        """{node: id of the copy kept} for each drop of one hash range (only with keep_removed)."""
        return join(self.root, "dedup", "exact", f"{shard:04d}.kept.json")

    @property
    def minhash(self) -> Path | str:
        return join(self.root, "minhash")

    def signatures(self, i: int) -> Path | str:
        return join(self.minhash, "sig", f"{i:05d}.npy")

    def band_keys(self, i: int) -> Path | str:
        return join(self.minhash, "bands", f"{i:05d}.keys.npy")

    def band_positions(self, i: int) -> Path | str:
        return join(self.minhash, "bands", f"{i:05d}.pos.npy")

    def shingles(self, i: int) -> Path | str:
        """Every kept document's shingle set, one after another (raw uint32, little-endian)."""
        return join(self.minhash, "shingles", f"{i:05d}.u32")

    def shingle_offsets(self, i: int) -> Path | str:
        """Where each document's set starts in `shingles(i)` (n + 1 offsets, in values)."""
        return join(self.minhash, "shingles", f"{i:05d}.off.npy")

    def ids(self, i: int) -> Path | str:
        return join(self.minhash, "ids", f"{i:05d}.json")

    def edges(self, band: int, shard: int = 0) -> Path | str:
        """Verified candidate pairs of one band and one range of its keys."""
        return join(self.minhash, "edges", f"{band:03d}-{shard:04d}.npy")

    def near_drops(self, i: int) -> Path | str:
        return join(self.root, "dedup", f"{i:05d}.near.json")

    def near_drops_kept(self, i: int) -> Path | str:
        """{position: id of the cluster's kept document} for each near drop of partition i (only with keep_removed)."""
        return join(self.root, "dedup", f"{i:05d}.near.kept.json")

    def components(self, name: str) -> Path | str:
        """A file of the near-dedup rounds (auralith.pipeline.components): adjacency, labels, messages."""
        return join(self.minhash, "cc", name)

    @property
    def clusters(self) -> Path | str:
        return join(self.minhash, "clusters.json")
