import json

import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError, InputError
from auralith.pipeline.plan import plan_partitions
from auralith.sources import hf_hub
from auralith.sources.documents import Document, FilePiece, InputIssue
from auralith.sources.readers import PieceReader
from auralith.storage import Files

files = Files()


@pytest.fixture
def local_dataset(tmp_path):
    """A dataset folder as `load_dataset(name)` finds one (a local name; the hub is not reachable here)."""
    folder = tmp_path / "my-dataset"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        "".join(json.dumps({"content": f"row {i}", "uid": f"u{i}"}) + "\n" for i in range(5))
    )
    rows = [{"content": "held out", "uid": "t0"}, {"content": None, "uid": "t1"}, {"content": "last", "uid": None}]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def read(name: str, end=None, split="train", text_field="content", id_field="uid", streaming=True) -> list:
    piece = FilePiece(name, 0, "hf_hub", "none", 0, end=end)
    options = {"subset": None, "split": split, "streaming": streaming}
    return list(PieceReader(files, piece, text_field, id_field, options))


def test_rows_of_the_split_stream_as_documents(local_dataset):
    """One real `datasets` load (a few seconds): the split asked for, streamed, row numbers and ids."""
    items = read(str(local_dataset), split="test")
    assert [(d.id, d.text, d.line) for d in items if isinstance(d, Document)] == [
        ("t0", "held out", 1),
        (f"{local_dataset}:3", "last", 3),
    ]
    assert [(i.reason, i.line, i.field) for i in items if isinstance(i, InputIssue)] == [("wrong_type", 2, "content")]


def test_offline_falls_back_to_the_cache_and_names_the_dataset_when_neither_works(monkeypatch):
    import datasets

    calls = []

    def fake_load(name, subset, split, streaming=False):
        calls.append(streaming)
        if streaming:
            raise ConnectionError("hub unreachable")
        if name == "org/cached":
            return [{"text": "from the cache", "id": "c0"}]
        raise FileNotFoundError(f"Dataset '{name}' doesn't exist on the Hub or cannot be accessed")

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    assert [d.text for d in read("org/cached", text_field="text", id_field="id")] == ["from the cache"]
    assert calls == [True, False]
    with pytest.raises(InputError, match="org/missing: cannot load the HuggingFace dataset.*hub unreachable"):
        hf_hub.load_hf_dataset("org/missing", None, "train", True)
    monkeypatch.setattr(hf_hub, "load_hf_dataset", lambda *a: iter([{"text": f"r{i}"} for i in range(9)]))
    assert [(d.text, d.id) for d in read("org/big", end=2, text_field="text")] == [
        ("r0", "org/big:1"),
        ("r1", "org/big:2"),
    ]
    assert [(i.reason, i.line) for i in read("org/big", end=2)] == [("missing_field", 1), ("missing_field", 2)]


def test_a_hub_source_is_a_partition_of_its_own_and_its_name_is_not_a_path(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    cfg = parse_config(
        {
            "sources": [{"path": "a.jsonl"}, {"path": "org/name", "format": "hf_hub", "max_samples": 5}],
            "tokenization": {"tokenizer": "tok.json"},
        },
        base_dir=tmp_path,
    )
    assert cfg.sources[1].patterns == ["org/name"]
    plan = plan_partitions(cfg)
    assert [[(p.format, p.end) for p in part] for part in plan] == [[("jsonl", None)], [("hf_hub", 5)]]


def test_hub_keys_belong_to_hf_hub_sources():
    with pytest.raises(ConfigError, match="sources.0: max_samples: only for format hf_hub"):
        parse_config({"sources": [{"path": "a.jsonl", "max_samples": 5}], "tokenization": {"tokenizer": "t.json"}})
