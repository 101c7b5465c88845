# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   the demo on the simulated cluster
#   make test   every test (what CI runs)
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test scenario unit functional pep8 bench sample-config clean

$(BIN)/.installed: requirements.txt test-requirements.txt setup.cfg
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m hvc_demo

test: $(BIN)/.installed
	$(BIN)/python tools/run_tests.py

# nova's in-process deployment on the simulated cluster: boot, delete, and
# where each allocation landed.
scenario: $(BIN)/.installed
	$(BIN)/python tools/nova_scenario.py

unit: $(BIN)/.installed
	$(BIN)/stestr run tests.unit

functional: $(BIN)/.installed
	$(BIN)/stestr run tests.functional

pep8: $(BIN)/.installed
	$(BIN)/flake8

bench: $(BIN)/.installed
	$(BIN)/python tools/bench_sync.py
	$(BIN)/python tools/bench_capacity.py

sample-config: $(BIN)/.installed
	mkdir -p etc/hvc
	$(BIN)/oslo-config-generator --namespace hvc.placement_sync \
		--output-file etc/hvc/placement-sync.conf.sample
	$(BIN)/oslo-config-generator --namespace hvc.driver \
		--output-file etc/hvc/nova-hyperv-cluster.conf.sample

clean:
	rm -rf $(VENV) .stestr
