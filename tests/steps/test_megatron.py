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


def test_megatron_core_trains_from_the_data_path_file(tmp_path):
    """What docs/output.md tells a Megatron-LM user: `--data-path $(cat megatron-data-path.txt)`, here through
    megatron-core's own dataset builder (the blend and GPTDataset that pretrain_gpt.py builds)."""
    pytest.importorskip("torch")
    dist = pytest.importorskip("torch.distributed")
    builder = pytest.importorskip("megatron.core.datasets.blended_megatron_dataset_builder")
    gpt = pytest.importorskip("megatron.core.datasets.gpt_dataset")
    from megatron.core.datasets.utils import get_blend_from_list

    from auralith.pipeline.mix_report import write_data_path

    rng = np.random.default_rng(0)
    infos = []
    for part in range(3):
        docs = [np.append(rng.integers(1, 500, rng.integers(20, 200)), 0).astype(np.uint16) for _ in range(15)]
        infos.append(_write(tmp_path, docs, prefix=f"part-{part:05d}").to_dict())
    write_data_path(files, str(tmp_path), infos)
    pairs = (tmp_path / "megatron-data-path.txt").read_text().split()
    assert pairs[1::2] == [str(tmp_path / f"part-{i:05d}") for i in range(3)]

    class Tokenizer:  # what GPTDataset asks of a tokenizer: EOD and pad ids, vocabulary size, a cache identity
        eod, pad, vocab_size, unique_identifiers = 0, 0, 500, {"class": "test"}

    config = gpt.GPTDatasetConfig(
        random_seed=1,
        sequence_length=64,
        blend=get_blend_from_list(pairs),
        split="100,0,0",
        path_to_cache=str(tmp_path / "cache"),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        tokenizer=Tokenizer(),
        mid_level_dataset_surplus=0.005,
    )
    own_group = not dist.is_initialized()  # the builder asks the process group for its rank
    if own_group:
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        train, _, _ = builder.BlendedMegatronDatasetBuilder(gpt.GPTDataset, [40, 0, 0], lambda: True, config).build()
        samples = [train[i]["tokens"].tolist() for i in range(len(train))]
    finally:
        if own_group:
            dist.destroy_process_group()
    assert len(samples) >= 40 and all(len(s) == 64 for s in samples)  # a blend rounds up
    assert all(0 <= t < 500 for s in samples for t in s)
