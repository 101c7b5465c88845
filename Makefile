# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   the demo on the simulated cluster
#   make test   the style checks, then every test (what CI runs)
# and a real cloud on this machine (every service in its own process):
#   make cloud  /  make cloud-stop
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test scenario unit functional pep8 bench sample-config clean \
	cloud cloud-stop cloud-status cloud-deps bench-cloud bench-failover \
	bench-agent tempest

$(BIN)/.installed: requirements.txt test-requirements.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m hvc_demo

# flake8 with hacking first (about 10 s): CI runs only this target.
test: $(BIN)/.installed cloud-deps
	$(BIN)/flake8
	$(BIN)/python tools/run_tests.py

# MariaDB and RabbitMQ from Debian (as root) for the local cloud and its
# end-to-end tests; nothing when they are there.
cloud-deps: $(BIN)/.installed
	$(BIN)/python -m hvc_localcloud install

# The local cloud in .cloud/: returns once a server can be booted.
cloud: $(BIN)/.installed
	$(BIN)/python -m hvc_localcloud start

cloud-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m hvc_localcloud stop; fi

cloud-status: $(BIN)/.installed
	$(BIN)/python -m hvc_localcloud status

# tempest's compute API tests against a local cloud of its own (too long
# for make test: 12 to 14 minutes on 2 cores).
tempest: $(BIN)/.installed cloud-deps
	$(BIN)/python tools/tempest.py

# 50 servers at once on the local cloud, against nova's fake driver.
bench-cloud: $(BIN)/.installed cloud-deps
	$(BIN)/python tools/bench_cloud.py

# The seam's round trip through hvc-agent (HTTP and HTTPS) against the
# same calls in-process, an owner change through it, a file in pieces.
bench-agent: $(BIN)/.installed
	$(BIN)/python tools/bench_agent.py

# nova's in-process deployment on the simulated cluster: boot, delete, and
# where each allocation landed.
scenario: $(BIN)/.installed
	$(BIN)/python tools/nova_scenario.py

# How fast nova follows the failover cluster, and one image download for
# a cluster, in nova's in-process deployment: the simulated cluster
# in-process (the baseline), then each node through its hvc-agent.
bench-failover: $(BIN)/.installed
	$(BIN)/python tools/bench_failover.py
	$(BIN)/python tools/bench_failover.py --agent

unit: $(BIN)/.installed
	$(BIN)/stestr run tests.unit

functional: $(BIN)/.installed
	$(BIN)/stestr run tests.functional

pep8: $(BIN)/.installed
	$(BIN)/flake8

bench: $(BIN)/.installed
	$(BIN)/python tools/bench_sync.py
	$(BIN)/python tools/bench_capacity.py

# One sample in etc/hvc/ for each generator file (its namespace, its
# output_file), as tox -e genconfig.
sample-config: $(BIN)/.installed
	mkdir -p etc/hvc
	for conf in etc/oslo-config-generator/*.conf; do \
		$(BIN)/oslo-config-generator --config-file $$conf || exit 1; \
	done

clean:
	rm -rf $(VENV) .stestr
