# wecare_backup — see README.md. `make` builds dist/wecare_backup.so.
CXX       ?= g++
CXXFLAGS  ?= -O2 -g
WARN      := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
BASEFLAGS := -std=c++17 -fPIC -fvisibility=hidden -MMD -MP -Iext $(WARN)
LDLIBS    := -pthread -lcurl -lzstd -lsodium -lexpat
PYTHON    ?= /usr/bin/python3
OBJDIR    ?= build/obj

EXT_SOURCES := $(sort $(wildcard ext/*.cpp ext/*/*.cpp))
EXT_OBJECTS := $(EXT_SOURCES:ext/%.cpp=$(OBJDIR)/%.o)
DIST := dist/wecare_backup.so


.PHONY: all setup test demo clean
all: $(DIST)

$(OBJDIR)/%.o: ext/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(BASEFLAGS) $(CXXFLAGS) -c -o $@ $<

$(DIST): $(EXT_OBJECTS)
	@mkdir -p dist
	$(CXX) $(CXXFLAGS) -shared -Wl,--no-undefined -o $@ $(EXT_OBJECTS) $(LDLIBS)

# Installs the Debian packages the build and the tests need (once).
setup:
	@sh scripts/setup-debian.sh

test: $(DIST)
	$(PYTHON) -m pytest -q tests

demo: $(DIST)
	sh sql/run_demo.sh

clean:
	rm -rf dist build

-include $(EXT_OBJECTS:.o=.d)

# Further targets (unit tests, crash test, sanitizers, fuzzing, benchmark,
# off-site) live in mk/, one file per concern.
include $(sort $(wildcard mk/*.mk))
