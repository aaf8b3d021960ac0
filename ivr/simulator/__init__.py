"""An ARI simulator: a small fake Asterisk speaking ARI over real HTTP and WebSocket."""
