# make demo: install into .venv and run the bundled example end to end.
# make test: install into .venv and run the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean slurm browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ui]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gitexp demo $(DIR)

# Bytecode first: where PYTHONDONTWRITEBYTECODE is set, every gitexp the tests start would compile its modules again.
test: $(STAMP) slurm browser
	$(BIN)/python -m compileall -q gitexp
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The Debian packages of the single-node Slurm cluster the Slurm tests start (as root; nothing when installed).
slurm:
	@if [ "$$(id -u)" = 0 ]; then scripts/install-slurm.sh; else echo "make slurm: not root, the Slurm tests skip unless Slurm is installed"; fi

# Chromium (the ui and report tests), Node and the pinned mermaid package (the PR comment's charts).
browser:
	scripts/install-browser.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
