.PHONY: install demo test lint format typecheck bench

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
