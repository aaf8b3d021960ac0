"""The database: models, Alembic migrations, the engine, the call-record writer and the
shared queries (call log, customers, screen pop, recordings, audit, retention, leases).
Each feature keeps its own queries (``agents``, ``tickets``, ``callbacks``, ``reporting``).

On SQLite or PostgreSQL. Never imports the web app, the command line, the call runtime or
the process wiring; settings come in as arguments.
"""
