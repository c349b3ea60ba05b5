# tests/fuzz/fuzz.mk - the fuzzing targets (issue 6), included by the
# top-level Makefile. Placeholder until the harnesses land.
.PHONY: fuzz
fuzz:
	@echo "fuzz: no harnesses yet"
