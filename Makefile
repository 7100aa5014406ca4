# The two commands: `make run` serves the embedded rule set, `make test` runs the tests.
# Both set up .venv on first use, with nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-slow run check clean nginx

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The tests marked slow, which make test leaves out (the Docker image's warm-up into an empty
# numba cache, fleets, load runs); CI (.ci/run) runs them after make test.
test-slow: $(STAMP) nginx
	$(BIN)/python -m pytest -m slow

# Debian's nginx: the load balancer in front of the fleet test's replicas (bench/fleet.py)
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; }

# Serve the embedded Daxing rule set (rules/daxing) on 127.0.0.1:8000: the defaults of dispatch serve.
run: $(STAMP)
	$(BIN)/dispatch serve

check: $(STAMP)
	$(BIN)/dispatch check rules/daxing

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
