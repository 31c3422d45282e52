"""Near-duplicate detection: MinHash signatures of word n-grams, LSH band keys, and a union-find.

Pure numpy over texts and arrays; the workflow decides where they are stored and how bands fan out.

Why hand-written rather than datasketch/datatrove: both hash one document at a time in Python; here the
permutations of a whole batch of documents run as one vectorised numpy pass (see bench/minhash.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import repeat

import numpy as np
import xxhash

from auralith.config.near_dedup import NearDedupConfig

EMPTY = np.uint64(np.iinfo(np.uint64).max)  # the signature value of a document with no words: never bucketed
_WORD = re.compile(r"\w+")
_CHUNK_ELEMENTS = 1 << 21  # shingles x hashes per numpy pass: 16 MB of uint64 temporaries


def _mix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser, in place: spreads every input bit over the whole word."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def _odd_constants(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False) | np.uint64(1)


def word_ngrams(text: str, n: int) -> list[str]:
    """The shingles as text (lowercased `\\w+` words joined by spaces); for tests and reports."""
    words = _WORD.findall(text.lower())
    if 0 < len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def jaccard(a: Iterable, b: Iterable) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


class MinHasher:
    """MinHash signatures of word n-grams: `num_hashes` 64-bit values per document.

    Shingle hashes: each word is hashed once (xxh3-64, seeded), an n-gram's hash is a seeded linear
    combination of its words' hashes put through a 64-bit mixer, so n-grams cost numpy work, not Python
    string joins. Permutations: h_i(x) = a_i * x + b_i mod 2^64 with random odd a_i, applied to the
    whole batch at once; a document's signature is the column-wise minimum over its shingles.
    """

    def __init__(self, ngram: int = 5, num_hashes: int = 112, seed: int = 1):
        self.ngram, self.num_hashes, self.seed = ngram, num_hashes, seed
        rng = np.random.default_rng([seed, 0x6D696E68])
        self._gram_mult = _odd_constants(rng, ngram)
        self._a = _odd_constants(rng, num_hashes)
        self._b = rng.integers(0, 2**64, size=num_hashes, dtype=np.uint64, endpoint=False)

    @classmethod
    def from_config(cls, cfg: NearDedupConfig) -> MinHasher:
        return cls(cfg.ngram, cfg.num_hashes, cfg.seed)

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The 64-bit hashes of a text's word n-grams (one n-gram of all words if there are fewer)."""
        words = _WORD.findall(text.lower())
        if not words:
            return np.empty(0, dtype=np.uint64)
        # map() over C functions: no Python frame per word.
        w = np.fromiter(
            map(xxhash.xxh3_64_intdigest, map(str.encode, words), repeat(self.seed, len(words))),
            dtype=np.uint64,
            count=len(words),
        )
        n = min(self.ngram, len(w))
        m = len(w) - n + 1
        h = w[:m] * self._gram_mult[0]
        for k in range(1, n):
            h += w[k : k + m] * self._gram_mult[k]
        return _mix64(h)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """Signatures of a batch of texts, shape (len(texts), num_hashes), uint64.

        A text with no words gets a row of EMPTY (never a candidate of anything).
        """
        return self.signatures_of([self.shingle_hashes(t) for t in texts])

    def signatures_of(self, shingles: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of documents given as their shingle hashes (`shingle_hashes`), one row each."""
        out = np.full((len(shingles), self.num_hashes), EMPTY, dtype=np.uint64)
        per_pass = max(1, _CHUNK_ELEMENTS // self.num_hashes)
        doc = 0
        while doc < len(shingles):
            # Gather whole documents up to `per_pass` shingles; one huge document is split across passes.
            first, total = doc, 0
            while doc < len(shingles) and (doc == first or total + len(shingles[doc]) <= per_pass):
                total += len(shingles[doc])
                doc += 1
            batch = [s for s in shingles[first:doc] if len(s)]
            rows = [i for i in range(first, doc) if len(shingles[i])]
            if not batch:
                continue
            if len(batch) == 1 and total > per_pass:
                out[rows[0]] = self._min_over(batch[0], per_pass)
                continue
            x = np.concatenate(batch)
            starts = np.cumsum([0] + [len(s) for s in batch[:-1]])
            out[rows] = np.minimum.reduceat(self._permute(x), starts, axis=0)
        return out

    def _permute(self, x: np.ndarray) -> np.ndarray:
        p = np.multiply.outer(x, self._a)
        p += self._b
        return p

    def _min_over(self, x: np.ndarray, per_pass: int) -> np.ndarray:
        best = np.full(self.num_hashes, EMPTY, dtype=np.uint64)
        for i in range(0, len(x), per_pass):
            np.minimum(best, self._permute(x[i : i + per_pass]).min(axis=0), out=best)
        return best


def shingle_set(shingles: np.ndarray) -> np.ndarray:
    """A document's shingle set as stored for exact verification: the sorted distinct top 32 bits of its
    shingle hashes. 32 bits halve the disk of 64 at a negligible cost: two documents of 10,000 shingles
    share a spurious value with probability 10,000^2 / 2^32 = 2%, which moves their Jaccard by 1/10,000."""
    return np.unique((shingles >> np.uint64(32)).astype(np.uint32))


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two shingle sets given as sorted distinct arrays (`shingle_set`); 1.0 for two empty sets."""
    if not len(a) and not len(b):
        return 1.0
    both = len(np.intersect1d(a, b, assume_unique=True))
    return both / (len(a) + len(b) - both)


def band_keys(signatures: np.ndarray, num_bands: int, rows_per_band: int, seed: int = 1) -> np.ndarray:
    """One 64-bit bucket key per band and document, shape (num_bands, n): equal rows give equal keys.

    Rows of EMPTY (documents without words) are the caller's to leave out.
    """
    n = signatures.shape[0]
    rng = np.random.default_rng([seed, 0x62616E64])
    mult = _odd_constants(rng, rows_per_band)
    bands = signatures[:, : num_bands * rows_per_band].reshape(n, num_bands, rows_per_band)
    keys = np.zeros((num_bands, n), dtype=np.uint64)
    for k in range(rows_per_band):
        keys += (bands[:, :, k] * mult[k]).T
    return _mix64(keys)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise fraction of equal MinHash values: an unbiased estimate of the pairs' Jaccard."""
    return (a == b).mean(axis=-1)


def bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Candidate pairs from one band: of each run of equal keys, (first node, other node), shape (E, 2).

    Star edges (k - 1 for a bucket of k) connect the bucket as well as all k^2 pairs would, for the
    union-find. Deterministic: ties are broken by node, whatever the input order.
    """
    if len(keys) < 2:
        return np.empty((0, 2), dtype=np.uint64)
    order = np.lexsort((nodes, keys))
    k, v = keys[order], nodes[order]
    starts = np.concatenate(([True], k[1:] != k[:-1]))
    first = np.maximum.accumulate(np.where(starts, np.arange(len(k)), 0))
    member = ~starts
    return np.stack([v[first[member]], v[member]], axis=1)


def bucket_pairs(keys: np.ndarray, nodes: np.ndarray, all_pairs_up_to: int = 32) -> np.ndarray:
    """Candidate pairs from one band for exact verification, shape (E, 2): every pair of each bucket of up to
    `all_pairs_up_to` members; star and chain edges of a bigger one.

    Star edges suffice to connect a bucket, not to verify it: when the bucket's first member is a document
    sharing a third of the others' shingles, every star edge fails the check and the true pairs among the rest
    are never compared. Deterministic, like `bucket_edges`.
    """
    if len(keys) < 2:
        return np.empty((0, 2), dtype=np.uint64)
    order = np.lexsort((nodes, keys))
    k, v = keys[order], nodes[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    sizes = np.diff(np.append(starts, len(k)))
    out = [bucket_edges(k, v)]
    big = sizes > all_pairs_up_to
    if big.any():  # the chain: consecutive members of each big bucket
        member = np.repeat(big, sizes)
        same = (k[1:] == k[:-1]) & member[1:]
        out.append(np.stack([v[:-1][same], v[1:][same]], axis=1))
    for size in np.unique(sizes[(sizes > 2) & ~big]).tolist():  # all pairs, one bucket size at a time
        first = starts[sizes == size]
        i, j = np.triu_indices(size, k=1)
        keep = i > 0  # pairs with the first member are the star edges
        rows = first[:, None]
        out.append(np.stack([v[rows + i[keep]].reshape(-1), v[rows + j[keep]].reshape(-1)], axis=1))
    return np.concatenate(out)


def node_id(partition: int | np.ndarray, position: int | np.ndarray) -> np.ndarray | int:
    """A document's node number in the duplicate graph: partition in the high 32 bits, position low."""
    if isinstance(partition, int) and isinstance(position, int):
        return (partition << 32) | position
    return (np.asarray(partition, dtype=np.uint64) << np.uint64(32)) | np.asarray(position, dtype=np.uint64)


def split_node(node: int) -> tuple[int, int]:
    return int(node) >> 32, int(node) & 0xFFFFFFFF


def connected_components(edges: np.ndarray) -> list[np.ndarray]:
    """Clusters (sorted arrays of nodes, size >= 2) joined by the edges, via union-find.

    Hand-written (path halving, union by smaller root) rather than pulling in scipy for one call; it
    runs over the duplicate pairs only, never over the corpus.
    """
    if len(edges) == 0:
        return []
    nodes, idx = np.unique(edges.reshape(-1), return_inverse=True)
    idx = idx.reshape(-1, 2)
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in idx.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.fromiter((find(i) for i in range(len(nodes))), dtype=np.int64, count=len(nodes))
    order = np.argsort(roots, kind="stable")
    cuts = np.flatnonzero(np.diff(roots[order])) + 1
    return [nodes[group] for group in np.split(order, cuts)]
