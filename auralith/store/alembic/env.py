"""Alembic environment: the connection comes from `auralith.store.migrate`, not from an ini file."""

from alembic import context

from auralith.store.db import get_engine
from auralith.store.models import Base

url = context.config.attributes["store_url"]
with get_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
