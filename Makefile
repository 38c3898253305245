# quotatune — the whole set-up is `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Debian packages the real-part tests start: dockerd, busybox for the test image,
# Prometheus (+ promtool) and headless Chromium.
DEB_PACKAGES := docker.io busybox-static prometheus chromium

.PHONY: demo test test-fast bench lint system-deps clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,dev]'
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
	  case $$b in *bench_backtest.py) args="$(TRACE)";; \
	    *bench_from.py|*bench_fleet.py) args="$(FLEET)";; *) args="";; esac; \
	  $(BIN)/python $$b $$args || exit 1; \
	done

lint: $(STAMP)
	$(BIN)/ruff check quotatune tests benchmarks
	$(BIN)/mypy quotatune

clean:
	rm -rf $(VENV) .pytest_cache reports/*.html
