"""Storage: SQLAlchemy models, engine setup, migrations."""
