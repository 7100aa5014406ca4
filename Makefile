# The two commands: `make run` serves the embedded rule set, `make test` runs the tests.
# Both set up .venv on first use, with nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-slow run check clean system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The tests marked slow, which make test leaves out (the Docker image's warm-up into an empty
# numba cache, the console in a real browser, a workbook re-saved by LibreOffice, three replicas
# behind nginx); CI (.ci/run) runs them after make test.
test-slow: $(STAMP) system-packages
	$(BIN)/python -m pytest -m slow

# Debian's packages the slow tests drive: Chromium (the console's browser tests, through Playwright),
# LibreOffice Calc (a workbook re-saved by a real spreadsheet program) and a Chinese font for the
# screenshots; nginx, the load balancer in front of the fleet test's replicas (bench/fleet.py).
# Installed when missing where apt-get can (root on Debian); elsewhere those tests skip, saying why.
SYSTEM_PACKAGES := chromium libreoffice-calc-nogui fonts-wqy-zenhei nginx
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing $$missing (apt-get)"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
			|| echo "apt-get could not install $$missing: the tests that need them will skip"; \
		else \
			echo "not installed: $$missing (the tests that need them will skip)"; \
		fi; \
	fi

# Serve the embedded Daxing rule set (rules/daxing) on 127.0.0.1:8000: the defaults of dispatch serve.
run: $(STAMP)
	$(BIN)/dispatch serve

check: $(STAMP)
	$(BIN)/dispatch check rules/daxing

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
