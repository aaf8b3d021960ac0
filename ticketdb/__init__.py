"""The database: models, Alembic migrations, the engine, the call-record writer and the
queries of tickets, customers, callbacks, notifications, recordings, audit and retention.

On SQLite or PostgreSQL. Never imports the web app, the command line, the call runtime or
the process wiring; settings come in as arguments.
"""
