.PHONY: install demo test lint format typecheck bench screenshots

install:
	./bootstrap install

demo:
	./bootstrap demo

test:
	./bootstrap test

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

typecheck:
	.venv/bin/mypy

bench:
	.venv/bin/python -m bench

# Refresh the README's pictures of the agent desk and the wallboard from the browser tests.
screenshots:
	HOTLINE_SCREENSHOTS=1 .venv/bin/python -m pytest -q tests/browser/test_agent_desk.py tests/browser/test_wallboard.py
