"""Storage: SQLAlchemy models, Alembic migrations and the functions the pipeline calls."""
