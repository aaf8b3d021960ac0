"""webapp: the Flask web application for agents and team leads."""
