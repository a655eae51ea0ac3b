# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8501
PYTEST_ARGS ?=
# The suite runs on both cores (pytest-xdist): much of it waits on subprocesses, servers and a
# browser. A file's tests stay together in one worker (they share module fixtures).
TEST_WORKERS ?= 2
XDIST  := -n $(TEST_WORKERS) --dist loadfile

.PHONY: install run test test-fast lint format bench browser postgres clean

$(STAMP): requirements.txt requirements-demo.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements-demo.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser test (Playwright's own browser download cannot work offline),
# with CJK and emoji fonts so screenshots of the Chinese interface are legible.
BROWSER_PKGS := chromium fonts-noto-cjk fonts-noto-color-emoji
browser:
	@missing=$$(for p in $(BROWSER_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	  || echo "warning: could not install $$missing; the browser test may be skipped"; fi

# A PostgreSQL server for the run-store tests against a real database (each test session starts
# its own throw-away cluster from these binaries; nothing listens on a TCP port).
POSTGRES_PKGS := postgresql
postgres:
	@missing=$$(for p in $(POSTGRES_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	  || echo "warning: could not install $$missing; the PostgreSQL store tests may be skipped"; fi

run: install
	$(BIN)/python -m ui.launch --server.address $(HOST) --server.port $(PORT) \
	  --server.headless true

test: install browser postgres
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: install
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

bench: install browser
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
