# Lint: clang-tidy (.clang-tidy, with the project's own flags from build.def),
# cppcheck, and clang-format (.clang-format) over ext/. Any finding fails; CI
# runs it. A check is silenced only with its reason beside it: in .clang-tidy,
# or as `// NOLINT(check): reason` / `// cppcheck-suppress id` at the line.
#
#   make lint           all three (clang-tidy takes a few minutes on 2 cores)
#   make lint-format    clang-format --dry-run --Werror only
#   make lint-cppcheck  cppcheck only
#   make lint-tidy      clang-tidy only
#   make lint-tidy LINT_SOURCES=ext/store/fd.cpp   one file (also lint-cppcheck)
CLANG_TIDY   ?= clang-tidy
CPPCHECK     ?= cppcheck
CLANG_FORMAT ?= clang-format
LINT_JOBS    ?= $(shell nproc)
LINT_SOURCES ?= $(EXT_SOURCES)
EXT_HEADERS  := $(sort $(foreach d,$(SOURCE_DIRS),$(wildcard $(d)/*.hpp)))
# What the compiler gets, less what only make needs (-MMD -MP) and -O/-g.
TIDY_FLAGS   := -std=c++$(CXX_STANDARD) $(COMPILE_FLAGS) $(INCLUDES) $(WARN_FLAGS)
# cppcheck's "style" class is left out: it reports every RAII lock guard as an
# unread variable and asks for <algorithm> calls instead of plain loops.
CPPCHECK_FLAGS := --quiet --error-exitcode=1 --std=c++$(CXX_STANDARD) --language=c++ \
                  --enable=warning,performance,portability --inline-suppr \
                  --suppress=missingIncludeSystem $(INCLUDES)

.PHONY: lint lint-format lint-cppcheck lint-tidy
lint: lint-format lint-cppcheck lint-tidy
	@echo "lint: clang-format, cppcheck and clang-tidy found nothing in ext/"

lint-format:
	$(CLANG_FORMAT) --dry-run --Werror $(EXT_SOURCES) $(EXT_HEADERS)

lint-cppcheck:
	$(CPPCHECK) $(CPPCHECK_FLAGS) -j $(LINT_JOBS) $(LINT_SOURCES)

# One clang-tidy per source, LINT_JOBS at a time; headers are checked through
# the sources that include them (HeaderFilterRegex in .clang-tidy). Its
# "N warnings generated" lines count what it filtered out (system headers,
# checks not enabled): dropped from the output; the full log stays in
# build/lint/clang-tidy.log.
lint-tidy:
	@mkdir -p build/lint
	@echo "$(CLANG_TIDY) --quiet <each of the $(words $(LINT_SOURCES)) sources> -- $(TIDY_FLAGS)"
	@printf '%s\n' $(LINT_SOURCES) | xargs -P $(LINT_JOBS) -I{} $(CLANG_TIDY) --quiet {} -- $(TIDY_FLAGS) \
	  > build/lint/clang-tidy.log 2>&1; status=$$?; \
	  grep -v '^[0-9]* warnings\? generated\.$$' build/lint/clang-tidy.log; exit $$status
