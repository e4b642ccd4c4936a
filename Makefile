# Duban developer commands. Everything runs from the project's own .venv (made by `make setup`).
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test processes (pytest-xdist) beside the one running the tests that share Redis.
TEST_WORKERS ?= 2

.PHONY: setup run run-services test rebuild bench clean-data

setup:
	bash scripts/setup.sh

run: setup
	DUBAN_MODE=embedded $(BIN)/flask --app app load-demo --if-empty
	DUBAN_MODE=embedded $(BIN)/flask --app app run --host 127.0.0.1 --port 5000

# The full mode: PostgreSQL (database duban) + Redis + web + projector + policies + worker.
SERVICES_ENV := PERSISTENCE_MODULE=eventsourcing.postgres POSTGRES_DBNAME=duban POSTGRES_HOST=127.0.0.1 \
	POSTGRES_PORT=5432 POSTGRES_USER=postgres POSTGRES_PASSWORD= DUBAN_MODE=services \
	DUBAN_CIPHER_KEY_FILE=$(CURDIR)/var/cipher-services.key DUBAN_REDIS_URL=redis://127.0.0.1:6379/0

run-services: setup
	bash scripts/ensure-services.sh
	@psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw duban || createdb -h 127.0.0.1 -U postgres duban
	@mkdir -p var
	$(SERVICES_ENV) $(BIN)/flask --app app init-store
	$(SERVICES_ENV) $(BIN)/flask --app app load-demo --if-empty
	$(SERVICES_ENV) CREATE_TABLE=n PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start

# pytest exit 5 = no tests collected: kept as a failure, with a message.
test:
	DUBAN_TEST_SETUP=1 bash scripts/setup.sh
	bash scripts/ensure-services.sh
	@rc=0; TEST_WORKERS=$(TEST_WORKERS) bash scripts/test.sh $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

rebuild:
	$(BIN)/flask --app app rebuild-projections

bench:
	$(BIN)/python bench/commands.py

clean-data:
	rm -rf var/
