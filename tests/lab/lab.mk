# The lab fleet (tests/lab/README.md); the top-level Makefile includes this file.
# The lab tool is standard-library Python and runs with Debian's own interpreter, venv or not.
LAB_PYTHON ?= /usr/bin/python3
LAB_ARGS ?=

.PHONY: lab-images lab-up lab-down lab-status lab-wait
lab-images:
	$(LAB_PYTHON) -m tests.lab images

lab-up:
	$(LAB_PYTHON) -m tests.lab up $(LAB_ARGS)

lab-down:
	$(LAB_PYTHON) -m tests.lab down

lab-status:
	$(LAB_PYTHON) -m tests.lab status

lab-wait:
	$(LAB_PYTHON) -m tests.lab wait
