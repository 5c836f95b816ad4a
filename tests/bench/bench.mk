# make bench: DCO's gain and the rollout's costs measured on the lab (docs/bench.md).
# The top-level Makefile includes this file. Needs root, like `make demo`: the bench brings the
# lab up itself when it is down. BENCH_ARGS passes options, e.g. BENCH_ARGS="--parts scale --runs 5".
BENCH_ARGS ?=

$(VENV)/.bench-requirements: requirements-bench.txt | venv
	$(VBIN)/pip install -q -r requirements-bench.txt
	touch $@

.PHONY: bench
bench: venv $(COLLECTION_LINK) $(VENV)/.bench-requirements
	$(VBIN)/python -m tests.bench $(BENCH_ARGS)
