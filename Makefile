# Entry point for everything: `make demo` and `make test` are the README's two commands.
# Each target installs what it needs on a fresh Debian 12 machine (run as root).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VBIN := $(VENV)/bin
SANITY_VENV := .venv-sanity
TMP := $(CURDIR)/.tmp
# ansible-test and the import paths need the collection under ansible_collections/NS/NAME.
COLLECTIONS := $(TMP)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/ovpnfleet/dco
# Outside the work tree: inside it, ansible-test would ask our git which files exist and find
# none in the ignored .tmp/. The copy gets a git index of its own instead, and a name per
# work tree so two checkouts can test at once.
SANITY_ROOT := /tmp/ovpnfleet-dco-sanity-$(shell printf %s '$(CURDIR)' | sha256sum | cut -c1-8)
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/ovpnfleet/dco
TIMER := $(CURDIR)/tests/timed

APT_PACKAGES := $(shell cat requirements-apt.txt 2>/dev/null | sed 's/\#.*//')

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)
export PATH := $(CURDIR)/$(VBIN):$(PATH)

-include tests/lab/lab.mk
-include tests/awx/awx.mk
-include tests/bench/bench.mk

.PHONY: help
help:
	@echo "make demo   - bring up the lab fleet and run the DCO rollout against it"
	@echo "make test   - every test: unit, sanity, lint, and the lab scenarios"
	@echo "make bench  - measure DCO against userspace and the rollout's costs on the lab (docs/bench.md)"
	@echo "make unit | sanity | integration | lint | build | changelog | ee | awx-jobs | clean"

.PHONY: apt-deps
apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VBIN)/activate: requirements-dev.txt | apt-deps
	$(PYTHON) -m venv $(VENV)
	$(VBIN)/pip install -q --upgrade pip
	$(VBIN)/pip install -q -r requirements-dev.txt
	touch $@

.PHONY: venv
venv: $(VBIN)/activate

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

.PHONY: unit
unit: venv $(COLLECTION_LINK)
	$(VBIN)/pytest -q tests/unit

# ansible-test installs each sanity test's pinned requirements; they would clash with
# ansible-lint's in .venv, and its own --venv mode downloads pip from a host we cannot reach.
$(SANITY_VENV)/bin/ansible-test: requirements-dev.txt | apt-deps
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install -q --upgrade pip
	$(SANITY_VENV)/bin/pip install -q $$(grep '^ansible-core==' requirements-dev.txt)

.PHONY: sanity
sanity: $(SANITY_VENV)/bin/ansible-test
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(SANITY_TREE)
	cd $(SANITY_TREE) && git init -q && git add -A
	mkdir -p ~/.ansible/test/cache
	version=$$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" $(SANITY_VENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py); \
	  test -n "$$version" && cp tests/sanity/bootstrap_pip.py ~/.ansible/test/cache/get_pip_$${version//./_}.py
	cd $(SANITY_TREE) && $(CURDIR)/$(SANITY_VENV)/bin/ansible-test sanity --local --requirements --python 3.11 --color no

# The targets that need no VM (tests/integration/targets), run on this machine in a copy of the
# tree of its own, as sanity does. pki runs on the controller and needs cryptography >= 42.
.PHONY: integration
integration: $(SANITY_VENV)/bin/ansible-test
	$(SANITY_VENV)/bin/pip install -q $$(grep '^cryptography==' requirements-dev.txt)
	tree=$(subst -sanity-,-integration-,$(SANITY_TREE)); \
	  rm -rf $(subst -sanity-,-integration-,$(SANITY_ROOT)) && mkdir -p $$tree; \
	  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $$tree; \
	  cd $$tree && git init -q && git add -A && \
	  $(CURDIR)/$(SANITY_VENV)/bin/ansible-test integration --local --python 3.11 --color no $(TARGETS)

.PHONY: lint
lint: venv $(COLLECTION_LINK)
	# ansible-lint links the project into ~/.ansible/collections itself; ours would be a second copy.
	env -u ANSIBLE_COLLECTIONS_PATH $(VBIN)/ansible-lint --profile production

# Build the tarball, install it into an empty collections path and make ansible-doc read
# every module from there: what a user of the built artifact gets.
.PHONY: build
build: venv
	rm -rf $(TMP)/dist $(TMP)/installed
	$(VBIN)/ansible-galaxy collection build --output-path $(TMP)/dist
	$(VBIN)/ansible-galaxy collection install -p $(TMP)/installed $(TMP)/dist/ovpnfleet-dco-*.tar.gz
	for module in $$(ls plugins/modules | sed -n 's/\.py$$//p'); do \
	  ANSIBLE_COLLECTIONS_PATH=$(TMP)/installed $(VBIN)/ansible-doc ovpnfleet.dco.$$module > /dev/null \
	    || { echo "ansible-doc cannot read ovpnfleet.dco.$$module from the built tarball"; exit 1; }; \
	  echo "ansible-doc ovpnfleet.dco.$$module: ok from the installed tarball"; done

.PHONY: changelog
changelog: venv
	$(VBIN)/antsibull-changelog lint

.PHONY: test
test:
	$(TIMER) apt+venv $(MAKE) --no-print-directory venv
	$(TIMER) unit $(MAKE) --no-print-directory unit
	$(TIMER) changelog $(MAKE) --no-print-directory changelog
	$(TIMER) build $(MAKE) --no-print-directory build
	$(TIMER) sanity $(MAKE) --no-print-directory sanity
	$(TIMER) integration $(MAKE) --no-print-directory integration
	$(TIMER) lint $(MAKE) --no-print-directory lint
	$(TIMER) molecule $(MAKE) --no-print-directory molecule

# The lab scenarios: the lab tool builds images, boots VMs and containers; Molecule drives
# the collection against them (extensions/molecule/).
MOLECULE_SCENARIOS := containers vms

.PHONY: molecule
molecule: venv $(COLLECTION_LINK)
	cd extensions && for scenario in $(MOLECULE_SCENARIOS); do \
	  $(TIMER) "molecule $$scenario" $(CURDIR)/$(VBIN)/molecule test -s $$scenario || exit 1; done

.PHONY: demo
demo: venv $(COLLECTION_LINK)
	python3 -m tests.lab up
	$(VBIN)/ansible-playbook -i .lab/inventory.yml playbooks/enable_dco.yml -e dco_report_dir=$(CURDIR)/dco-report
	@echo
	@echo "Fleet report: dco-report/fleet.md (also fleet.html, fleet.json, junit.xml)."
	@echo "The lab keeps running. Look around:"
	@echo "  python3 -m tests.lab status"
	@echo "  python3 -m tests.lab ssh debian12-1 -- lsmod"
	@echo "  $(VBIN)/ansible all -i .lab/inventory.yml -m ovpnfleet.dco.host_info"
	@echo "Tear down: make lab-down"

.PHONY: clean
clean:
	rm -rf $(TMP) .pytest_cache
