"""agents: seats, shift rules and call distribution (see docs/architecture.md)."""
