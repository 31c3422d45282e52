"""`validate`, `db upgrade`, `tokenizer train`: configs, the store's schema and tokenizers."""

from __future__ import annotations

import click

from auralith.cli.common import client_for, console, service_options


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check a job config and print it with every default filled in (credentials in URLs masked)."""
    import yaml

    from auralith.config import load_config
    from auralith.redact import redact

    cfg = load_config(config)
    click.echo(yaml.safe_dump(redact(cfg.model_dump(mode="json", exclude={"base_dir"})), sort_keys=False))


@click.group()
def db() -> None:
    """The SQL store's schema."""


@db.command("upgrade")
@service_options
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate Auralith's tables to the newest schema."""
    from auralith.redact import redact_url
    from auralith.store.migrate import head_revision

    client = client_for(ctx)
    applied = client.store.upgrade()
    click.echo(f"{redact_url(client.store_url)}: {'migrated to' if applied else 'already at'} {head_revision()}")


@click.group()
def tokenizer() -> None:
    """Tokenizers that work offline."""


@tokenizer.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--vocab-size", default=8192, show_default=True, type=click.IntRange(min=260))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write tokenizer.json.")
@click.option("--max-mb", default=200.0, show_default=True, help="Train on at most this much text.")
def tokenizer_train(config: str, vocab_size: int, out: str, max_mb: float) -> None:
    """Train a byte-level BPE tokenizer on the job's sources (normalised as the job would)."""
    from auralith.config import load_config
    from auralith.pipeline.source_text import iter_source_texts
    from auralith.steps.tokenize import train_bpe_tokenizer
    from auralith.storage.local import write_bytes_atomic

    cfg = load_config(config)
    seen = {"docs": 0}

    def texts():
        for text in iter_source_texts(cfg, max_bytes=int(max_mb * 2**20)):
            seen["docs"] += 1
            yield text

    with console.status("training tokenizer..."):
        tok = train_bpe_tokenizer(texts(), vocab_size)
    write_bytes_atomic(out, tok.to_str().encode())
    click.echo(f"wrote {out}: vocab {tok.get_vocab_size()} trained on {seen['docs']} documents")


COMMANDS = (validate, db, tokenizer)
