# Duban developer commands. Everything runs from the project's own .venv (made by `make setup`).
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup run test rebuild bench clean-data

setup:
	bash scripts/setup.sh

run: setup
	DUBAN_MODE=embedded $(BIN)/flask --app app load-demo --if-empty
	DUBAN_MODE=embedded $(BIN)/flask --app app run --host 127.0.0.1 --port 5000

# pytest exit 5 = no tests collected: kept as a failure, with a message.
test: setup
	bash scripts/ensure-services.sh
	@rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

rebuild:
	$(BIN)/flask --app app rebuild-projections

bench:
	$(BIN)/python bench/commands.py

clean-data:
	rm -rf var/
