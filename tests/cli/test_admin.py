"""`validate`, `db upgrade` and `tokenizer train`: no broker needed."""

from __future__ import annotations

import yaml
from click.testing import CliRunner
from tokenizers import Tokenizer

from auralith.cli.main import main
from tests.corpus import sentences, write_jsonl


def _config(tmp_path, tokenizer_path) -> str:
    write_jsonl(tmp_path / "data" / "a.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(sentences(200))])
    path = tmp_path / "job.yaml"
    path.write_text(f"name: j\nsources: [{{path: data/*.jsonl}}]\ntokenization: {{tokenizer: {tokenizer_path}}}\n")
    return str(path)


def test_validate_prints_the_config_with_its_defaults(tmp_path, tokenizer_path):
    out = CliRunner().invoke(main, ["validate", _config(tmp_path, tokenizer_path)])
    assert out.exit_code == 0, out.output
    shown = yaml.safe_load(out.output)
    assert shown["name"] == "j" and shown["priority"] == "normal" and "base_dir" not in shown


def test_db_upgrade_names_the_store_without_its_password(tmp_path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    out = CliRunner().invoke(main, ["db", "upgrade", "--store", store])
    assert out.exit_code == 0 and out.output.startswith(f"{store}: migrated to "), out.output
    dead = CliRunner().invoke(main, ["db", "upgrade", "--store", "postgresql+psycopg://u:pw@127.0.0.1:1/x"])
    assert dead.exit_code == 1 and dead.output.startswith("error: ") and "pw" not in dead.output, dead.output


def test_tokenizer_train_writes_a_tokenizer(tmp_path, tokenizer_path):
    out_file = tmp_path / "tok" / "tokenizer.json"
    out = CliRunner().invoke(
        main, ["tokenizer", "train", _config(tmp_path, tokenizer_path), "--vocab-size", "300", "--out", str(out_file)]
    )
    assert out.exit_code == 0, out.output
    assert f"wrote {out_file}: vocab 300 trained on 200 documents" in out.output
    assert Tokenizer.from_file(str(out_file)).get_vocab_size() == 300


def test_validate_masks_credentials_in_urls(tmp_path, tokenizer_path):
    path = _config(tmp_path, tokenizer_path)
    with open(path, "a") as f:
        f.write("storage: {s3: {endpoint_url: 'http://minio:s3cr3t-key@minio.local:9000'}}\n")
    out = CliRunner().invoke(main, ["validate", path])
    assert out.exit_code == 0, out.output
    assert "s3cr3t-key" not in out.output
    assert yaml.safe_load(out.output)["storage"]["s3"]["endpoint_url"] == "http://minio:***@minio.local:9000"
