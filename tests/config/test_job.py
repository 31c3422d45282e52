"""Loading job configs from YAML: defaults, key-path errors, path resolution, the config hash, `validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.config import JobConfig, load_config, parse_config
from auralith.errors import ConfigError

MINIMAL = """\
sources:
  path: data/*.jsonl
tokenization:
  tokenizer: gpt2
"""


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.name == "job" and cfg.priority == "normal" and cfg.partition_size_mb is None
    assert cfg.sources[0].text_field == "text" and cfg.sources[0].id_field == "id"
    assert cfg.sources[0].format == "auto"
    pre = cfg.preprocessing
    assert (pre.normalize.unicode, pre.normalize.whitespace) == ("NFC", True)
    assert (pre.length.min_chars, pre.length.max_chars) == (1, 1_000_000)
    assert pre.exact_dedup is True and pre.keep_removed is False
    tok = cfg.tokenization
    assert (tok.append_eos, tok.eos_token, tok.max_length, tok.dtype, tok.batch_size) == (True, None, None, "auto", 512)
    assert (cfg.output.max_shard_size_mb, cfg.output.compression, cfg.output.zstd_level) == (256.0, "none", 3)


def test_single_source_mapping_becomes_a_list(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert len(cfg.sources) == 1
    assert cfg.sources[0].patterns == [str(tmp_path.resolve() / "data/*.jsonl")]


def test_negative_min_chars_names_key_path(tmp_path):
    got = problems(tmp_path, MINIMAL + "preprocessing:\n  length:\n    min_chars: -1\n")
    assert len(got) == 1 and got[0].startswith("preprocessing.length.min_chars: ")
    assert "greater than or equal to 0" in got[0]


def test_missing_section(tmp_path):
    assert problems(tmp_path, "sources:\n  path: a.jsonl\n") == ["tokenization: Field required"]


def test_typo_is_an_unknown_key(tmp_path):
    got = problems(tmp_path, MINIMAL + "preprocessing:\n  lenght:\n    min_chars: 5\n")
    assert got == ["preprocessing.lenght: unknown key"]


def test_max_below_min(tmp_path):
    got = problems(tmp_path, MINIMAL + "preprocessing:\n  length:\n    min_chars: 10\n    max_chars: 5\n")
    assert got == ["preprocessing.length: max_chars must be >= min_chars"]


def test_max_chars_null_means_no_upper_bound(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "preprocessing:\n  length:\n    max_chars: null\n"))
    assert cfg.preprocessing.length.max_chars is None


def test_invalid_priority(tmp_path):
    (line,) = problems(tmp_path, MINIMAL + "priority: urgent\n")
    assert line.startswith("priority: ") and "'critical'" in line


def test_every_problem_listed_at_once(tmp_path):
    text = """\
sources: []
preprocessing:
  length:
    min_chars: -1
  lenght: {}
output:
  compression: gzip
priority: urgent
"""
    got = problems(tmp_path, text)
    assert [p.split(":", 1)[0] for p in got] == [
        "sources",
        "preprocessing.length.min_chars",
        "preprocessing.lenght",
        "tokenization",
        "output.compression",
        "priority",
    ]


def test_error_message_names_file_and_problems(tmp_path):
    path = write(tmp_path, "sources:\n  path: a.jsonl\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert str(info.value) == f"{path}: invalid config\n  tokenization: Field required"


def test_sources_list_entries_are_indexed(tmp_path):
    got = problems(tmp_path, "sources:\n  - path: a.jsonl\n  - {text_field: body}\ntokenization: {tokenizer: t}\n")
    assert got == ["sources.1.path: Field required"]


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    (line,) = problems(tmp_path, "sources:\n  path: [a.jsonl\ntokenization: {tokenizer: gpt2}\n")
    assert line.startswith("line 3, column ") and "invalid YAML" in line


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_not_a_mapping(tmp_path, text):
    assert problems(tmp_path, text) == ["(top level): expected a mapping of keys to values"]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"file not found: {path}"]


def test_unreadable_file(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith("cannot read: ")


def test_relative_paths_resolve_against_config_folder(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    path = write(
        conf_dir,
        """\
sources:
  - path: [data/a.jsonl, /abs/b.jsonl]
  - path: "../other/*.txt"
work_dir: scratch
output:
  path: out
tokenization:
  tokenizer: tok.json
""",
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = load_config(path)
    base = conf_dir.resolve()
    assert cfg.base_dir == str(base)
    assert cfg.sources[0].patterns == [str(base / "data/a.jsonl"), "/abs/b.jsonl"]
    assert cfg.sources[1].patterns == [str(base / "../other/*.txt")]
    assert cfg.work_dir == str(base / "scratch")
    assert cfg.output.path == str(base / "out")
    assert cfg.tokenization.tokenizer == str(base / "tok.json")


def test_hf_names_stay_as_they_are(tmp_path):
    assert load_config(write(tmp_path, MINIMAL)).tokenization.tokenizer == "gpt2"
    text = MINIMAL.replace("gpt2", "meta-llama/Llama-3.1-8B")
    assert load_config(write(tmp_path, text)).tokenization.tokenizer == "meta-llama/Llama-3.1-8B"


def test_existing_tokenizer_folder_is_resolved(tmp_path):
    (tmp_path / "toks" / "mine").mkdir(parents=True)
    cfg = load_config(write(tmp_path, MINIMAL.replace("gpt2", "toks/mine")))
    assert cfg.tokenization.tokenizer == str(tmp_path.resolve() / "toks/mine")


def test_a_bare_tokenizer_folder_beside_the_config_is_resolved_and_loads_from_elsewhere(
    tmp_path, tokenizer_path, monkeypatch
):
    """`tokenizer: tokdir` (a folder beside the config holding tokenizer.json, as docs/config.md allows) is a
    path, not a hub name: it is made absolute, so a worker in another directory finds it."""
    from auralith.steps.tokenize import load_tokenizer

    (tmp_path / "tokdir").mkdir()
    (tmp_path / "tokdir" / "tokenizer.json").write_text(tokenizer_path.read_text())
    cfg = load_config(write(tmp_path, MINIMAL.replace("gpt2", "tokdir")))
    assert cfg.tokenization.tokenizer == str(tmp_path.resolve() / "tokdir")
    monkeypatch.chdir(tokenizer_path.parent)
    assert load_tokenizer(cfg.tokenization.tokenizer).get_vocab_size() > 0


def test_resolving_twice_changes_nothing(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.resolved() == cfg
    assert JobConfig.model_validate(cfg.model_dump()).resolved() == cfg  # as a worker rebuilds it


def test_config_hash_is_stable_and_ignores_base_dir(tmp_path):
    # Every path absolute, so only base_dir differs (relative ones rightly resolve to different places).
    data = {
        "sources": {"path": "/data/*.jsonl"},
        "work_dir": "/w",
        "output": {"path": "/o"},
        "tokenization": {"tokenizer": "gpt2"},
    }
    a = parse_config(data, base_dir=tmp_path / "a")
    b = parse_config(data, base_dir=tmp_path / "b")
    assert a.base_dir != b.base_dir
    h = a.config_hash()
    assert len(h) == 64 and int(h, 16) >= 0
    assert h == a.config_hash() == parse_config(data, base_dir=tmp_path / "a").config_hash()
    assert b.config_hash() == h
    changed = parse_config({**data, "priority": "high"}, base_dir=tmp_path / "a")
    assert changed.config_hash() != h


def test_cli_validate_bad_config_prints_key_path(tmp_path):
    path = write(tmp_path, MINIMAL + "preprocessing:\n  length:\n    min_chars: -3\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "preprocessing.length.min_chars: Input should be greater than or equal to 0" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_good_config_prints_defaults(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(write(tmp_path, MINIMAL))])
    assert result.exit_code == 0, result.output
    assert "min_chars: 1" in result.output and "base_dir" not in result.output


def test_cli_rejects_unknown_url_schemes_in_one_line():
    from click.testing import CliRunner

    from auralith.cli.main import main

    for args in (["--store", "foo", "jobs"], ["--store", "mysql://u@h/db", "jobs"], ["--broker", "foo://bar", "jobs"]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 1, out.output
        assert "URL" in out.output and "expected a URL starting with one of" in out.output
        assert "Traceback" not in out.output


def test_quality_and_pii_defaults_follow_datatrove(tmp_path):
    pre = load_config(write(tmp_path, MINIMAL)).preprocessing
    q = pre.quality
    assert q.enabled and q.gopher_quality.enabled and q.gopher_repetition.enabled and q.c4.enabled and q.fineweb.enabled
    assert (q.gopher_quality.min_doc_words, q.gopher_quality.max_avg_word_length) == (50, 10)
    assert q.gopher_repetition.top_n_grams == {2: 0.2, 3: 0.18, 4: 0.16}
    assert (q.c4.min_num_sentences, q.fineweb.line_punct_thr, q.fineweb.short_line_length) == (5, 0.12, 30)
    assert pre.pii.enabled and pre.pii.replace.email == "tag" and pre.pii.only_public_ips


@pytest.mark.parametrize(
    ("yaml_tail", "key", "message"),
    [
        (
            "  quality:\n    gopher_quality:\n      min_doc_wrds: 10\n",
            "preprocessing.quality.gopher_quality.min_doc_wrds",
            "unknown key",
        ),
        (
            "  quality:\n    fineweb:\n      line_punct_thr: 1.5\n",
            "preprocessing.quality.fineweb.line_punct_thr",
            "less than or equal to 1",
        ),
        (
            "  quality:\n    gopher_repetition:\n      top_n_grams: {2: 3.0}\n",
            "preprocessing.quality.gopher_repetition.top_n_grams",
            "between 0 and 1",
        ),
        ("  pii:\n    replace:\n      email: scramble\n", "preprocessing.pii.replace.email", "'tag'"),
        ("  pii:\n    phone_regions: [DE, XX]\n", "preprocessing.pii.phone_regions", "unknown region code(s) ['XX']"),
    ],
)
def test_quality_and_pii_errors_name_their_key_path(tmp_path, yaml_tail, key, message):
    got = problems(tmp_path, MINIMAL + "preprocessing:\n" + yaml_tail)
    assert len(got) == 1 and got[0].startswith(key + ": ") and message in got[0], got


def test_quality_thresholds_can_be_switched_off_with_null(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "preprocessing:\n  quality:\n    c4: {min_num_sentences: null}\n"))
    assert cfg.preprocessing.quality.c4.min_num_sentences is None


def test_training_section_is_validated_with_key_paths(tmp_path):
    from auralith.config import parse_config

    base = {"sources": [{"path": "x.jsonl"}], "tokenization": {"tokenizer": "t.json"}}
    assert parse_config(base).training is None
    cfg = parse_config({**base, "training": {"layers": 2, "d_model": 64, "device": "cpu"}})
    assert cfg.training.layers == 2 and cfg.training.precision == "fp32"
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "training": {"heads": 3, "d_model": 64, "lerning_rate": 1, "device": "tpu", "steps": 0}})
    problems = err.value.problems
    assert "training.lerning_rate: unknown key" in problems
    assert any(p.startswith("training.device: Input should be 'auto', 'hpu', 'cuda' or 'cpu'") for p in problems)
    assert any(p.startswith("training.steps: Input should be greater than 0") for p in problems)
    with pytest.raises(ConfigError, match=r"training: d_model \(64\) must be divisible by heads \(3\)"):
        parse_config({**base, "training": {"heads": 3, "d_model": 64}})
