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
APP_FILES  := default bin lib lookups metadata app.manifest README.md CHANGELOG.md LICENSE .slimignore
# Splunk's content builder runs in its own venv: it pins its own dependencies and needs Python 3.11 to 3.13.
CC_PYTHON  ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || echo python3)
CC_VENV    := .venv-contentctl
CONTENTCTL := $(CC_VENV)/bin/contentctl

.PHONY: all venv vendor package partition contentctl lint unit test fuzz run bench clean

all: package

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# splunklib is vendored into the app by the build, never committed; again only when SPLUNK_SDK changes
# (a new stamp file) or lib/ is gone.
VENDORED := lib/splunklib/__init__.py
vendor: $(VENDORED)
$(VENDORED): build/vendor/splunk-sdk-$(SPLUNK_SDK) | $(VENV)/.installed
	rm -rf lib
	$(PY) -m pip install --quiet --no-deps --no-compile --target lib splunk-sdk==$(SPLUNK_SDK)
	rm -rf lib/bin
	touch $@
build/vendor/splunk-sdk-%:
	mkdir -p $(@D) && touch $@

# The package is rebuilt only when one of its inputs is newer than it.
PACKAGE_INPUTS := $(shell find default bin lookups metadata -type f -not -path '*/__pycache__/*' -not -name '*.pyc' \
                    2>/dev/null) app.manifest README.md CHANGELOG.md LICENSE .slimignore
PARTITION  := dist/partitions/$(APP)-$(VERSION)-_search_heads.tar.gz

package: $(PACKAGE) $(PARTITION)
$(PACKAGE): $(VENDORED) $(PACKAGE_INPUTS)
	rm -rf build/stage dist && mkdir -p build/stage dist
	mkdir -p $(STAGE) && cp -R $(APP_FILES) $(STAGE)/
	find $(STAGE) -name '__pycache__' -prune -exec rm -rf {} + ; find $(STAGE) -name '*.pyc' -delete
	cd build/stage && ../../$(VENV)/bin/slim package $(APP) -o ../../dist
	@test -f $(PACKAGE)

# Deployment packages for distributed Splunk (search heads, indexers, forwarders).
partition: $(PARTITION)
$(PARTITION): $(PACKAGE)
	rm -rf dist/partitions && mkdir -p dist/partitions
	$(VENV)/bin/slim partition $(PACKAGE) -o dist/partitions
	@test -f $@

# ruff and mypy, configured in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The fast tests (no package build, no AppInspect, no whole-dataset runs, no pyenv Pythons, no corpus run), on
# both cores, with a tenth of each property test's examples (tests/project.py `examples`); `make test` runs all.
unit: vendor
	PROPERTY_EXAMPLES=unit $(PY) -m pytest -m "not slow" -n 2 -q

# contentctl validate and build of contentctl/ (offline: contentctl.yml sets enrichments: false); the tests
# compare the built stanzas with default/ (tests/test_contentctl.py).
$(CC_VENV)/.installed: requirements-contentctl.txt
	$(CC_PYTHON) -m venv $(CC_VENV)
	$(CC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CC_VENV)/bin/python -m pip install --quiet -r requirements-contentctl.txt
	touch $@

contentctl: $(CC_VENV)/.installed
	rm -rf contentctl/dist && mkdir -p build
	cd contentctl && ../$(CONTENTCTL) validate > ../build/contentctl.log 2>&1 || { cat ../build/contentctl.log; exit 1; }
	cd contentctl && ../$(CONTENTCTL) build > ../build/contentctl.log 2>&1 || { cat ../build/contentctl.log; exit 1; }
	@test -f contentctl/dist/DA_ESS_WmiProcessExecution/default/savedsearches.conf

test: lint package contentctl
	$(PY) -m pytest

# The rbascore protocol fuzz test with more examples per Python than `make test` runs (FUZZ_EXAMPLES=N).
FUZZ_EXAMPLES ?= 300
fuzz: vendor
	RBASCORE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_rbascore_fuzz.py -q

run: vendor
	$(PY) -m localsearch run samples/

bench: vendor
	$(PY) -m bench.rbascore_bench
	$(PY) -m bench.localsearch_bench
	$(PY) -m bench.memory_bench

clean:
	rm -rf build dist lib .pytest_cache .hypothesis .ruff_cache .mypy_cache contentctl/dist
