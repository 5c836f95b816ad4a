# The execution environment image and AWX-style jobs in it (docs/awx.md); the top-level
# Makefile includes this file. Standard-library Python with Debian's interpreter; the tool
# pins (ansible-builder, ansible-runner) go into a venv of their own under /var/cache/ovpnfleet-ee.
AWX_PYTHON ?= /usr/bin/python3
# For awx-jobs: the inventory, the durable directory (PKI, module cache) and any further
# arguments, e.g. AWX_ARGS='--extra-var dco_hosts=lab_vms'.
AWX_INVENTORY ?= .lab/inventory.yml
AWX_DURABLE ?= /var/lib/ovpnfleet-dco-awx
AWX_ARGS ?=

.PHONY: ee awx-jobs
ee: venv
	$(AWX_PYTHON) -m tests.awx ee

awx-jobs: ee
	mkdir -p $(AWX_DURABLE)
	$(AWX_PYTHON) -m tests.awx jobs --inventory $(AWX_INVENTORY) --durable $(AWX_DURABLE) $(AWX_ARGS)
