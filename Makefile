# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format migrations-check bench clean deploy-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hermod_core celery_app portal

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var

# The production path (docs/operations.md): builds the images (docker/local-base.sh, then
# docker/Dockerfile), runs docker/compose.yaml with podman-compose and drives it from outside,
# single and scaled out. Needs root, podman, runc, debootstrap (.ci/run installs them).
deploy-test: $(STAMP)
	$(BIN)/python -m pip install --quiet podman-compose==1.6.0
	PATH="$(CURDIR)/$(BIN):$$PATH" HERMOD_DEPLOY_TEST=1 $(BIN)/python -m pytest tests/deploy -p no:cacheprovider $(PYTEST_ARGS)
