import os

import pytest

from auralith.config import parse_config
from auralith.errors import ConfigError
from auralith.sources.roots import allowed_roots, check_job_paths, check_source_patterns, path_problem


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


def test_a_server_without_roots_confines_jobs_to_its_folder_and_temp(tmp_path, monkeypatch):
    import tempfile

    from auralith.sources.roots import confine_server, default_server_roots, server_roots

    monkeypatch.chdir(tmp_path)
    assert default_server_roots() == [str(tmp_path.resolve()), os.path.realpath(tempfile.gettempdir())]
    assert server_roots({}) == default_server_roots()
    env: dict[str, str] = {}
    line = confine_server(env)
    assert line and "AURALITH_ALLOWED_ROOTS is not set" in line and str(tmp_path.resolve()) in line
    assert allowed_roots(env) == default_server_roots()
    assert path_problem("/etc/shadow", allowed_roots(env)) is not None
    assert confine_server(env) is None  # set (now or by the operator): left as it is
    assert confine_server({"AURALITH_ALLOWED_ROOTS": "/data"}) is None


def test_dotdot_never_climbs_out_of_a_root(tmp_path):
    root = tmp_path / "data"
    (root / "in").mkdir(parents=True)
    assert path_problem(str(root / "in" / ".." / "x"), [str(root)]) is None
    assert path_problem(str(root / "in" / ".." / ".." / "x"), [str(root)]) is not None
    # A symlink inside the root that points out of it is followed.
    (root / "out").symlink_to("/etc")
    assert path_problem(str(root / "out" / "passwd"), [str(root)]) is not None


def test_the_submitted_config_folder_is_not_a_root(tmp_path):
    """A config that says its folder is / (base_dir) reaches nothing more: roots come from the server."""
    env = {"AURALITH_ALLOWED_ROOTS": str(tmp_path)}
    c = parse_config(
        {"sources": [{"path": "etc/*"}], "tokenization": {"tokenizer": "org/model"}, "base_dir": "/"}, base_dir="/"
    ).resolved()
    with pytest.raises(ConfigError) as err:
        check_job_paths(c, env=env)
    assert [p.split(":")[0] for p in err.value.problems] == ["output.path", "work_dir"]
    with pytest.raises(ConfigError, match=r"sources\[0\].path: /etc/\* is outside the allowed roots"):
        check_source_patterns(c, env=env)


def test_event_log_and_training_folders_are_checked(tmp_path):
    env = {"AURALITH_ALLOWED_ROOTS": str(tmp_path / "in")}
    c = parse_config(
        {
            "sources": [{"path": "in/*.jsonl"}],
            "tokenization": {"tokenizer": "org/model"},
            "output": {"path": "in/o"},
            "work_dir": "in/w",
            "events": {"jsonl": "../../{job_id}.jsonl"},
            "training": {"checkpoint_dir": "/var/ckpt", "cache_dir": str(tmp_path / "in" / "cache")},
        },
        base_dir=tmp_path / "in",
    ).resolved()
    with pytest.raises(ConfigError) as err:
        check_job_paths(c, env=env)
    assert [p.split(":")[0] for p in err.value.problems] == ["events.jsonl", "training.checkpoint_dir"]


def test_source_patterns_are_checked_by_their_fixed_folders(tmp_path):
    env = {"AURALITH_ALLOWED_ROOTS": str(tmp_path)}
    ok = parse_config(
        {"sources": [{"path": ["in/**/*.jsonl", "s3://b/x/*"]}], "tokenization": {"tokenizer": "org/model"}},
        base_dir=tmp_path,
    ).resolved()
    check_source_patterns(ok, env=env)
    bad = parse_config(
        {"sources": [{"path": "in/../../*.jsonl"}], "tokenization": {"tokenizer": "org/model"}}, base_dir=tmp_path
    ).resolved()
    with pytest.raises(ConfigError, match="outside the allowed roots"):
        check_source_patterns(bad, env=env)


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
