# wecare_backup — see README.md. `make` builds dist/wecare_backup.so.
# Flags, libraries and source folders come from build.def, which CMakeLists.txt
# reads too: change them there.
include build.def

CXX       ?= g++
CXXFLAGS  ?= $(DEFAULT_CXXFLAGS)
INCLUDES  := $(addprefix -I,$(INCLUDE_DIRS))
BASEFLAGS := -std=c++$(CXX_STANDARD) $(COMPILE_FLAGS) -MMD -MP $(INCLUDES) $(WARN_FLAGS)
PYTHON    ?= /usr/bin/python3
OBJDIR    ?= build/obj

EXT_SOURCES := $(sort $(foreach d,$(SOURCE_DIRS),$(wildcard $(d)/*.cpp)))
EXT_OBJECTS := $(EXT_SOURCES:ext/%.cpp=$(OBJDIR)/%.o)
DIST := dist/wecare_backup.so

# A source outside SOURCE_DIRS would silently be left out of the library.
STRAY_SOURCES := $(filter-out $(EXT_SOURCES),$(shell find ext -name '*.cpp'))
ifneq ($(STRAY_SOURCES),)
$(error $(STRAY_SOURCES): in no folder of SOURCE_DIRS in build.def; add the folder there)
endif


.PHONY: all setup test demo clean
all: $(DIST)

# build.def is a prerequisite: a changed flag rebuilds everything.
$(OBJDIR)/%.o: ext/%.cpp build.def
	@mkdir -p $(@D)
	$(CXX) $(BASEFLAGS) $(CXXFLAGS) -c -o $@ $<

$(DIST): $(EXT_OBJECTS) build.def
	@mkdir -p dist
	$(CXX) $(CXXFLAGS) -shared $(LINK_FLAGS) -o $@ $(EXT_OBJECTS) $(LIBS)

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
# off-site, lint) live in mk/, one file per concern.
include $(sort $(wildcard mk/*.mk))
