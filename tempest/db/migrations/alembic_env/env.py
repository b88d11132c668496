"""Alembic's entry point for tempest projects: everything is configured from the registry."""

from tempest.db.migrations.environment import run_environment

run_environment()
