# Reliability and security proof (issue 4): unit tests of the pure modules,
# crash test, soak, sanitizers, fuzzing, valgrind. Included by the Makefile.
#
#   make unit          GoogleTest binary: policy, store, off-site codec/targets (S3 skips without moto)
#   make crash-test    SIGKILL in create/cleanup/restore, CRASH_TRIALS (200) trials; then
#                      SIGKILL of continuous capture, CAPTURE_CRASH_TRIALS (100) trials
#   make soak          writer + 2 schedulers + a create/verify/cleanup loop, SOAK_SECONDS (60)
#   make asan          the extension with ASan+UBSan, then the whole pytest suite on it
#   make fuzz          each libFuzzer target FUZZ_SECONDS (60); fuzz-short: 5 s each
#   make valgrind      memcheck on the sqlite3 shell running the sql/ scripts

.PHONY: unit crash-test soak asan asan-build fuzz fuzz-short fuzz-build valgrind

# ---------------------------------------------------------------- unit tests
# One GoogleTest binary for every layer below sql/: the pure policy code, the
# store primitives, the off-site codec, key files, targets and S3 client (the
# S3 tests skip unless tests/offsite/run.sh gives them a moto server). It links
# the extension's own objects (same flags) and a stub of SQLite's API table.
PURE_SOURCES := $(sort $(wildcard ext/policy/*.cpp)) ext/common/error.cpp ext/common/observer.cpp \
                ext/store/checksum.cpp ext/store/fd.cpp ext/offsite/index.cpp ext/offsite/codec.cpp \
                ext/offsite/s3_xml.cpp
UNIT_SOURCES := $(sort $(wildcard tests/unit/*.cpp))
UNIT_DIR     := build/unit
UNIT_BIN     := $(UNIT_DIR)/wecare_unit
GTEST_LIBS   ?= $(TEST_LIBS)
UNIT_OBJECTS := $(filter-out $(ENTRY_SOURCE:ext/%.cpp=$(OBJDIR)/%.o),$(EXT_OBJECTS)) \
                $(UNIT_SOURCES:tests/unit/%.cpp=$(UNIT_DIR)/%.o)

$(UNIT_DIR)/%.o: tests/unit/%.cpp build.def
	@mkdir -p $(UNIT_DIR)
	$(CXX) -std=c++$(CXX_STANDARD) -MMD -MP $(TEST_WARN_FLAGS) $(INCLUDES) $(CXXFLAGS) -c -o $@ $<

$(UNIT_BIN): $(UNIT_OBJECTS)
	$(CXX) $(CXXFLAGS) -o $@ $(UNIT_OBJECTS) $(GTEST_LIBS) $(LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN) --gtest_brief=1

-include $(UNIT_OBJECTS:.o=.d)

# ---------------------------------------------------------------- crash test and soak
CRASH_TRIALS ?= 200
CAPTURE_CRASH_TRIALS ?= 100
SOAK_SECONDS ?= 60

crash-test: $(DIST)
	$(PYTHON) tests/crash/harness.py --trials $(CRASH_TRIALS)
	$(PYTHON) tests/crash/capture_harness.py --trials $(CAPTURE_CRASH_TRIALS)

soak: $(DIST)
	$(PYTHON) tests/crash/soak.py --seconds $(SOAK_SECONDS)

# ---------------------------------------------------------------- sanitizers
# g++ links the sanitizer runtimes dynamically, so Python (not built with ASan)
# must have libasan preloaded, and libstdc++ right after it: ASan resolves
# __cxa_throw when it starts, and Python itself does not load libstdc++
# (without it the first C++ throw aborts in ASan's interceptor). Python's own
# allocations are not ours: leak detection is off; UBSan stops at the first
# report. Reports also go to build/asan/report.* (pytest captures stderr).
ASAN_DIR     := build/asan
ASAN_DIST    := $(ASAN_DIR)/wecare_backup.so
ASAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_OBJECTS := $(EXT_SOURCES:ext/%.cpp=$(ASAN_DIR)/obj/%.o)
ASAN_RUNTIME  = $(shell $(CXX) -print-file-name=libasan.so) $(shell $(CXX) -print-file-name=libstdc++.so)
ASAN_REPORTS  = $(abspath $(ASAN_DIR))/report
ASAN_ENV      = LD_PRELOAD="$(ASAN_RUNTIME)" \
                ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0:log_path=$(ASAN_REPORTS) \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(ASAN_REPORTS) \
                WECARE_BACKUP_EXT=$(abspath $(ASAN_DIR))/wecare_backup WECARE_SANITIZED=1

$(ASAN_DIR)/obj/%.o: ext/%.cpp build.def
	@mkdir -p $(@D)
	$(CXX) $(BASEFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(ASAN_DIST): $(ASAN_OBJECTS)
	$(CXX) $(ASAN_FLAGS) -shared $(LINK_FLAGS) -o $@ $(ASAN_OBJECTS) $(LIBS)

asan-build: $(ASAN_DIST)

asan: $(ASAN_DIST) $(DIST)
	@rm -f $(ASAN_REPORTS).*
	$(ASAN_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider tests || { cat $(ASAN_REPORTS).* 2>/dev/null | head -80; exit 1; }
	@if ls $(ASAN_REPORTS).* >/dev/null 2>&1; then cat $(ASAN_REPORTS).* | head -80; echo "asan: reports found"; exit 1; fi
	@echo "asan: the whole suite passed on the ASan+UBSan build, no report"

-include $(ASAN_OBJECTS:.o=.d)

# ---------------------------------------------------------------- fuzzing
FUZZ_CXX      ?= clang++
FUZZ_DIR      := build/fuzz
FUZZ_TARGETS  := fuzz_name fuzz_settings fuzz_metadata fuzz_retention fuzz_checksum \
                 fuzz_codec fuzz_s3_xml fuzz_offsite_index fuzz_increment fuzz_segment
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_FLAGS    := -std=c++$(CXX_STANDARD) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined $(INCLUDES)
FUZZ_SECONDS  ?= 60
FUZZ_SHORT_SECONDS ?= 5
# The code under test is compiled once with coverage instrumentation; each
# target links it with libFuzzer's main.
FUZZ_OBJECTS  := $(PURE_SOURCES:ext/%.cpp=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/sqlite_api_stub.o

$(FUZZ_DIR)/obj/%.o: ext/%.cpp build.def
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/sqlite_api_stub.o: tests/unit/sqlite_api_stub.cpp build.def
	@mkdir -p $(FUZZ_DIR)/obj
	$(FUZZ_CXX) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_DIR)/%: fuzz/%.cpp build.def $(FUZZ_OBJECTS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< $(FUZZ_OBJECTS) $(LIBS)

-include $(FUZZ_OBJECTS:.o=.d) $(FUZZ_BINS:=.d)

fuzz-build: $(FUZZ_BINS)

# Runs each target on its committed corpus plus fuzz/out/<target> (new finds),
# with fuzz/<target>.dict as libFuzzer's dictionary when there is one.
define run_fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/out/$$t fuzz/corpus/$$t; \
	  dict=""; [ ! -f fuzz/$$t.dict ] || dict=-dict=fuzz/$$t.dict; \
	  $(FUZZ_DIR)/$$t -max_total_time=$(1) -max_len=4096 -timeout=10 -rss_limit_mb=2048 $$dict \
	    -artifact_prefix=fuzz/out/$$t- -print_final_stats=1 fuzz/out/$$t fuzz/corpus/$$t \
	    > fuzz/out/$$t.log 2>&1 || { tail -40 fuzz/out/$$t.log; echo "FUZZ FAILURE in $$t"; exit 1; }; \
	  echo "$$t: $(1) s, $$(grep -o 'stat::number_of_executed_units: [0-9]*' fuzz/out/$$t.log | grep -o '[0-9]*$$') inputs, corpus $$(ls fuzz/corpus/$$t fuzz/out/$$t | wc -l) files, no failure"; \
	done
endef

fuzz: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_SECONDS))

fuzz-short: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_SHORT_SECONDS))

# ---------------------------------------------------------------- valgrind
valgrind: $(DIST)
	sh tests/crash/valgrind.sh
