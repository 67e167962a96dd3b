"""Alembic environment: migrates the database named by PIXWAVE_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from app.db import money_models, risk_models, webhook_models
from app.db.models import Base
from app.settings import Settings, sqlalchemy_url

# Every table's module, so that Base.metadata is the whole schema `alembic check` compares.
TABLE_MODULES = (money_models, risk_models, webhook_models)


def _url() -> str:
    configured = context.config.attributes.get("database_url") or Settings().database_url
    if configured is None:
        raise SystemExit("PIXWAVE_DATABASE_URL is not set")
    return sqlalchemy_url(str(configured))


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
