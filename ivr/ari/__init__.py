"""A thin typed asyncio client for the Asterisk REST Interface (REST + events WebSocket)."""
