# The benchmark (issue 3): wecare_backup against cp, the shell's .backup and
# VACUUM INTO, in one run, medians of alternating rounds. See bench/README.md.
#   make bench          1 GiB database (and 4 GiB for the memory figure); writes bench/RESULTS.md
#   make bench-quick    64 MiB, a few minutes
#   make bench-render   bench/RESULTS.md again from bench/RESULTS.json, no measuring
.PHONY: bench bench-quick
bench: $(DIST)
	$(PYTHON) bench/run.py

bench-quick: $(DIST)
	$(PYTHON) bench/run.py --quick --out bench/RESULTS-quick.md

# RESULTS.md again from RESULTS.json, measuring nothing (after a change to bench/report.py)
.PHONY: bench-render
bench-render:
	$(PYTHON) bench/run.py --render-only
