"""`auralith serve` (the HTTP API and dashboard) and `auralith api-token` (a token for it)."""

from __future__ import annotations

import click

from auralith.cli.common import client_for, console, store_options


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds between the event stream's reads of the store.",
)
@store_options
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, poll: float) -> None:
    """Serve the HTTP API (/api, OpenAPI at /docs) and the job dashboard (/).

    Callers need a token from AURALITH_API_TOKENS (`auralith api-token`); jobs may only name paths inside
    AURALITH_ALLOWED_ROOTS (unset: this folder and the temp folder) and webhooks to AURALITH_WEBHOOK_HOSTS.
    """
    import logging

    import uvicorn

    from auralith.api.app import create_app
    from auralith.api.auth import TokenBook
    from auralith.redact import install_log_redaction, redact_url
    from auralith.sources.roots import confine_server

    tokens = TokenBook.from_environment()
    if (note := confine_server()) is not None:
        console.print(f"[yellow]{note}[/yellow]", highlight=False, soft_wrap=True)
    client = client_for(ctx)
    console.print(
        f"auralith serve on http://{host}:{port} (dashboard /, API /api, docs /docs); broker "
        f"{redact_url(client.broker_url)}, store {redact_url(client.store_url)}; {len(tokens.entries)} token(s)",
        highlight=False,
        soft_wrap=True,
    )
    config = uvicorn.Config(create_app(client, tokens, poll=poll), host=host, port=port, log_level="info")
    # uvicorn's Config has set up its loggers' handlers: mask credentials in what they print (an error quoting a
    # broker URL, say). Tokens never reach them: the access log has the method and path only.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        install_log_redaction(logging.getLogger(name))
    uvicorn.Server(config).run()


@click.command("api-token")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), default="viewer", show_default=True)
@click.option(
    "--submits-per-hour",
    type=click.IntRange(min=1),
    default=None,
    help="Most jobs this token may submit in an hour (429 beyond); unlimited by default.",
)
def api_token(name: str, role: str, submits_per_hour: int | None) -> None:
    """Make a token for `auralith serve`: prints the token (give it to its user; it is shown only now) and the
    entry to add to AURALITH_API_TOKENS (its hash: the server never keeps the token itself)."""
    from auralith.api.auth import new_token

    token, entry = new_token(name, role)
    if submits_per_hour is not None:
        entry += f":{submits_per_hour}/h"
    click.echo(f"token:  {token}")
    click.echo(f"entry:  {entry}")
    click.echo("add the entry to AURALITH_API_TOKENS (comma-separated), in the environment or the secrets file")


COMMANDS = (serve, api_token)
