"""Alembic migrations for the review service's schema (a package so it ships in the wheel)."""
