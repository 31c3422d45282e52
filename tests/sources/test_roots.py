import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError
from auralith.sources.roots import allowed_roots, check_job_paths, path_problem


def cfg(tmp_path, **over):
    return parse_config(
        {
            "sources": [{"path": "in/*.jsonl"}],
            "tokenization": {"tokenizer": "org/model"},
            "output": {"path": over.get("output", "in/out")},
            "work_dir": over.get("work", "in/work"),
        },
        base_dir=tmp_path,
    ).resolved()


def test_unset_allows_everything(tmp_path):
    assert allowed_roots({}) is None and allowed_roots({"AURALITH_ALLOWED_ROOTS": " "}) is None
    assert path_problem("/etc/passwd", None) is None
    check_job_paths(cfg(tmp_path, output="/elsewhere"), env={})


def test_output_and_work_dir_outside_are_refused(tmp_path):
    env = {"AURALITH_ALLOWED_ROOTS": str(tmp_path / "in")}
    check_job_paths(cfg(tmp_path), env=env)  # a HuggingFace name is not a path: not checked
    with pytest.raises(ConfigError) as err:
        check_job_paths(cfg(tmp_path, output="/tmp/../etc/out", work="in/../../w"), env=env)
    assert err.value.problems == [
        f"output.path: /tmp/../etc/out is outside the allowed roots (AURALITH_ALLOWED_ROOTS={tmp_path}/in)",
        f"work_dir: {tmp_path}/in/../../w is outside the allowed roots (AURALITH_ALLOWED_ROOTS={tmp_path}/in)",
    ]


def test_a_root_is_not_a_prefix_of_a_sibling(tmp_path):
    assert path_problem(str(tmp_path / "data"), [str(tmp_path / "data")]) is None
    assert path_problem(str(tmp_path / "data2" / "x"), [str(tmp_path / "data")]) is not None


def test_tokenizer_path_outside_is_refused(tmp_path):
    tok = tmp_path / "tok.json"
    tok.write_text("{}")
    c = parse_config(
        {
            "sources": [{"path": "in/*.jsonl"}],
            "tokenization": {"tokenizer": str(tok)},
            "output": {"path": "in/o"},
            "work_dir": "in/w",
        },
        base_dir=tmp_path,
    ).resolved()
    with pytest.raises(ConfigError, match="tokenization.tokenizer: .*tok.json is outside the allowed roots"):
        check_job_paths(c, env={"AURALITH_ALLOWED_ROOTS": str(tmp_path / "in")})


def test_block_list_files_outside_are_refused(tmp_path):
    c = parse_config(
        {
            "sources": [{"path": "in/*.warc.gz"}],
            "tokenization": {"tokenizer": "org/model"},
            "output": {"path": "in/o"},
            "work_dir": "in/w",
            "preprocessing": {"url_filter": {"block_domain_files": ["in/ok.txt", "/etc/hosts"]}},
        },
        base_dir=tmp_path,
    )
    with pytest.raises(ConfigError) as err:
        check_job_paths(c, env={"AURALITH_ALLOWED_ROOTS": str(tmp_path / "in")})
    assert [p.split(":")[0] for p in err.value.problems] == ["preprocessing.url_filter.block_domain_files"]
    assert "/etc/hosts is outside the allowed roots" in err.value.problems[0]
