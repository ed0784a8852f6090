# Build, test and run the DA-ESS-WmiProcessExecution app. Every target installs what it needs.
APP        := DA-ESS-WmiProcessExecution
VERSION    := $(shell sed -n 's/^version *= *//p' default/app.conf | head -n 1)
PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
SPLUNK_SDK := 2.1.1
STAGE      := build/stage/$(APP)
PACKAGE    := dist/$(APP)-$(VERSION).tar.gz
# The app's own files, copied to a folder named after the app id for slim (slim wants folder = app id).
APP_FILES  := default bin lib lookups metadata app.manifest README.md LICENSE .slimignore

.PHONY: all venv vendor package partition test run bench clean

all: package

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# splunklib is vendored into the app by the build, never committed.
vendor: lib/splunklib/__init__.py
lib/splunklib/__init__.py: $(VENV)/.installed
	rm -rf lib
	$(PY) -m pip install --quiet --no-deps --no-compile --target lib splunk-sdk==$(SPLUNK_SDK)
	rm -rf lib/bin
	touch $@

package: $(PACKAGE) partition
$(PACKAGE): vendor $(shell find default bin lookups metadata -type f -not -path '*/__pycache__/*' 2>/dev/null) app.manifest README.md LICENSE .slimignore
	rm -rf build/stage dist && mkdir -p build/stage dist
	mkdir -p $(STAGE) && cp -R $(APP_FILES) $(STAGE)/
	find $(STAGE) -name '__pycache__' -prune -exec rm -rf {} + ; find $(STAGE) -name '*.pyc' -delete
	cd build/stage && ../../$(VENV)/bin/slim package $(APP) -o ../../dist
	@test -f $(PACKAGE)

# Deployment packages for distributed Splunk (search heads, indexers, forwarders).
partition: $(PACKAGE)
	rm -rf dist/partitions && mkdir -p dist/partitions
	$(VENV)/bin/slim partition $(PACKAGE) -o dist/partitions

test: package
	$(PY) -m pytest

run: vendor
	$(PY) -m localsearch run samples/

bench: vendor
	$(PY) bench/rbascore_bench.py
	$(PY) bench/localsearch_bench.py

clean:
	rm -rf build dist lib .pytest_cache .hypothesis
