"""Megatron .bin/.idx files: read back by megatron-core's own IndexedDataset, and byte for byte what its
IndexedDatasetBuilder writes for the same documents."""

from __future__ import annotations

import numpy as np
import pytest

from auralith.steps.megatron import MegatronWriter, index_bytes, megatron_dtype, read_megatron
from auralith.storage import Files

files = Files()
DOCS = [np.array([5, 6, 7, 0], dtype=np.uint16), np.array([9, 0], dtype=np.uint16), np.array([0], dtype=np.uint16)]


def _write(out, docs, dtype="uint16", prefix="part-00000"):
    with MegatronWriter(files, out, prefix, token_dtype=dtype) as writer:
        for d in docs:
            writer.add(d)
        return writer.close()


def test_written_files_read_back(tmp_path):
    info = _write(tmp_path, DOCS)
    assert (info.n_docs, info.n_tokens, info.dtype) == (3, 7, "uint16")
    back = read_megatron(files, tmp_path / "part-00000")
    assert [d.tolist() for d in back] == [d.tolist() for d in DOCS]


def test_no_document_no_files(tmp_path):
    assert _write(tmp_path, []) is None
    assert list(tmp_path.iterdir()) == []


def test_an_error_leaves_no_file(tmp_path):
    with pytest.raises(ZeroDivisionError), MegatronWriter(files, tmp_path, "p", token_dtype="uint16") as writer:
        writer.add(DOCS[0])
        1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []


def test_wide_vocabularies_are_int32():
    assert megatron_dtype("uint32") == np.int32
    assert megatron_dtype("uint16") == np.uint16


@pytest.mark.parametrize("token_dtype", ["uint16", "uint32"])
def test_megatron_core_reads_them_and_writes_the_same_bytes(tmp_path, token_dtype):
    torch = pytest.importorskip("torch")
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    docs = [d.astype(token_dtype) for d in DOCS]
    _write(tmp_path / "ours", docs, dtype=token_dtype)
    dataset = indexed.IndexedDataset(str(tmp_path / "ours" / "part-00000"))
    assert len(dataset) == 3
    assert [dataset[i].tolist() for i in range(3)] == [d.tolist() for d in docs]
    assert dataset.document_indices.tolist() == [0, 1, 2, 3]
    # megatron-core's builder, as tools/preprocess_data.py drives it: one document, one sequence.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    builder = indexed.IndexedDatasetBuilder(str(theirs / "p.bin"), dtype=megatron_dtype(token_dtype).type)
    for d in docs:
        builder.add_document(torch.from_numpy(d.astype(np.int64)), [len(d)])
    builder.finalize(str(theirs / "p.idx"))
    assert (theirs / "p.bin").read_bytes() == (tmp_path / "ours" / "part-00000.bin").read_bytes()
    assert (theirs / "p.idx").read_bytes() == (tmp_path / "ours" / "part-00000.idx").read_bytes()
    assert index_bytes(np.array([len(d) for d in docs]), megatron_dtype(token_dtype)) == (theirs / "p.idx").read_bytes()
