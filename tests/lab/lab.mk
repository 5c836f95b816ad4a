# Included by the top-level Makefile: the lab fleet (tests/lab/README.md).
LAB_ARGS ?=

.PHONY: lab-up lab-down lab-status
lab-up:
	python3 -m tests.lab up $(LAB_ARGS)

lab-down:
	python3 -m tests.lab down

lab-status:
	python3 -m tests.lab status
