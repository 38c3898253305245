# quotatune — the whole set-up is `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Debian packages the real-part tests start: dockerd, busybox for the test image,
# Prometheus (+ promtool) and headless Chromium.
DEB_PACKAGES := docker.io busybox-static prometheus chromium

.PHONY: demo test test-fast bench lint audit system-deps clean

$(STAMP): pyproject.toml setup.py constraints.txt quotatune/rollup/scanpass.c \
          quotatune/analysis/quantpass.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,dev]'
	@# Bytecode now, as pip writes it for an installed package: an environment that does not
	@# write it (PYTHONDONTWRITEBYTECODE) would compile every module in every command's start.
	$(BIN)/python -m compileall -q quotatune
	touch $(STAMP)

venv: $(STAMP)

# Installs only what is missing; needs root (CI runs as root).
system-deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/quotatune import data/sample/*.csv.gz --format bitbrains --store data
	$(BIN)/quotatune recommend --store data
	$(BIN)/quotatune report --store data --out reports

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not docker and not prometheus and not chromium"

# TRACE: the trace the backtest benchmark replays (the full Bitbrains month for the
# published comparison; the bundled sample by default).
TRACE ?= data/sample
# FLEET: extra flags for the fleet-scale benchmarks (bench_from, bench_fleet), e.g.
# `make bench FLEET=--quick`; empty runs them at full scale (50 M and 20 M samples).
FLEET ?=
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do \
	  echo "== $$b"; \
	  case $$b in *bench_backtest.py|*bench_folds.py) args="$(TRACE)";; \
	    *bench_from.py|*bench_fleet.py) args="$(FLEET)";; *) args="";; esac; \
	  $(BIN)/python $$b $$args || exit 1; \
	done
	@echo "== benchmarks/bench_backtest.py --fleet"; \
	$(BIN)/python benchmarks/bench_backtest.py --fleet $(FLEET)

lint: $(STAMP) audit
	$(BIN)/ruff check quotatune tests benchmarks
	$(BIN)/mypy quotatune

# The pinned versions against PyPI's advisory data (pip-audit; the pins are exact, so nothing is
# installed).  Known vulnerabilities fail; where the data cannot be reached (offline, or an index
# without PyPI's per-release JSON) it says so in one line and passes.
AUDIT_OUT := $(VENV)/audit.txt
audit: $(STAMP)
	@$(BIN)/pip-audit --disable-pip --no-deps -r constraints.txt --progress-spinner off \
	    >$(AUDIT_OUT) 2>&1; rc=$$?; \
	pins=$$(grep -c '==' constraints.txt); \
	unchecked=$$(grep -c 'could not be audited' $(AUDIT_OUT)); \
	if grep -q '^Found [0-9]* known vulnerabilit' $(AUDIT_OUT); then cat $(AUDIT_OUT); exit 1; \
	elif [ $$rc -ne 0 ]; then \
	  echo "audit: not run, the advisory data could not be reached ($$(tail -n 1 $(AUDIT_OUT) | cut -c 1-100))"; \
	elif [ $$unchecked -gt 0 ]; then \
	  echo "audit: $$unchecked of $$pins pinned packages not checked, PyPI's advisory data for them could not be reached"; \
	else echo "audit: no known vulnerabilities in the $$pins pinned packages"; fi

clean:
	rm -rf $(VENV) .pytest_cache reports/*.html
