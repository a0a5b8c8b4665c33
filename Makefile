# strata — one entry point: make, make demo, make check, make bench, make install.
#
# Build outputs live in build/ (objects), lib/ (libraries) and bin/ (tools);
# none of them is tracked.  Missing Debian build dependencies are installed
# by the `deps` step, only when a pkg-config or header check says so.
#
# make DEBUG=1 builds lib/ with assertions and the lock-order witness
# (docs/design.md, "Debug build"); its objects live apart from the release
# ones, and switching modes relinks.  make check also runs the unit and API
# suites against such a build (check-debug).

CC      ?= cc
PREFIX  ?= /usr/local
SHELL   := /bin/bash

WARN    := -Wall -Wextra -Werror
CSTD    := -std=gnu11
INCS    := -Iinclude -Isrc -I.
# The allocator: hidden visibility, initial-exec TLS, no builtin malloc folding,
# and frame pointers, so that the profiler's frame-pointer unwinder
# (prof_backtrace:fp) can walk out of strata (the fast paths set up no
# frame: the same instruction count under callgrind).
# -fexceptions: std::bad_alloc, thrown when C++'s operator new finds no
# memory (src/malloc_cxx.cpp), leaves through malloc.c's frames.
LIB_CFLAGS := $(CSTD) -O2 -g $(WARN) -fPIC -fvisibility=hidden -fno-omit-frame-pointer \
	-ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
	-fno-builtin-calloc -fno-builtin-realloc -fexceptions -D_GNU_SOURCE $(INCS)
# C++'s operator new and delete (src/*.cpp), in the same library.
CXX     ?= g++
# Without exceptions or RTTI, it refers to no libstdc++ symbol: libstrata.so
# does not link libstdc++ (src/malloc_cxx.cpp says why and how).
LIB_CXXFLAGS := -std=gnu++17 -O2 -g $(WARN) -fPIC -fvisibility=hidden -fno-omit-frame-pointer \
	-ftls-model=initial-exec -fno-exceptions -fno-rtti -D_GNU_SOURCE $(INCS)
# The same sources built for the internal test archive: exported names get a
# strata_test_ prefix so the archive can be linked into ASan/UBSan programs.
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TEST_LIB_CFLAGS := $(CSTD) -O1 -g $(WARN) -fvisibility=hidden -D_GNU_SOURCE \
	-DSTRATA_INTERNAL_TEST $(SAN) $(INCS)
# The profiler's unwinder and compressor; libm for its sampling math.
LIB_LDLIBS := -lpthread -lunwind -lz -lm

DEBUG   ?= 0
DEBUG_FLAGS := -DSTRATA_DEBUG
ifeq ($(DEBUG),1)
PIC_DIR := build/pic-debug
else
PIC_DIR := build/pic
endif

SRC_C   := $(sort $(wildcard src/*.c) $(wildcard prof/*.c))
# C++ sources go into the libraries only: the internal test archive has no
# operator new of its own.
SRC_CXX := $(sort $(wildcard src/*.cpp))
PIC_OBJ := $(SRC_C:%.c=$(PIC_DIR)/%.o) $(SRC_CXX:%.cpp=$(PIC_DIR)/%.o)
TST_OBJ := $(SRC_C:%.c=build/test/%.o)
# check-debug: the same sources with assertions, as a .so and a test archive.
DBG_PIC_OBJ := $(SRC_C:%.c=build/pic-debug/%.o) $(SRC_CXX:%.cpp=build/pic-debug/%.o)
DBG_TST_OBJ := $(SRC_C:%.c=build/test-debug/%.o)

all: deps lib/libstrata.so lib/libstrata.a lib/pkgconfig/strata.pc tools

.PHONY: all deps test-deps demo check check-unit check-api check-programs \
	check-layers check-debug check-install bench bench-quick install clean tools FORCE

# ---------------------------------------------------------------- deps
BUILD_PKGS := libunwind-dev libdw-dev zlib1g-dev libnuma-dev check pkg-config
deps: build/.deps-ok
build/.deps-ok:
	@missing=""; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists libunwind 2>/dev/null || missing="$$missing libunwind-dev"; \
	pkg-config --exists libdw 2>/dev/null || missing="$$missing libdw-dev"; \
	pkg-config --exists zlib 2>/dev/null || missing="$$missing zlib1g-dev"; \
	pkg-config --exists check 2>/dev/null || missing="$$missing check"; \
	echo '#include <numa.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libnuma-dev"; \
	command -v $(CXX) >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
		echo "installing missing build dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@mkdir -p build && touch $@

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Programs the tests drive (real programs under LD_PRELOAD, jemalloc's jeprof
# and library for differential tests, graphviz, protoc, g++ for the C++
# program of the leak-report tests, redis and CPython's test modules for
# check-programs).
TEST_TOOLS := python3:python3 sqlite3:sqlite3 perl:perl git:git dot:graphviz \
	protoc:protobuf-compiler jeprof:libjemalloc-dev g++:g++ gcc:gcc \
	redis-server:redis-server redis-benchmark:redis-tools
test-deps: build/.test-deps-ok
build/.test-deps-ok: | deps
	@missing=""; \
	for t in $(TEST_TOOLS); do \
		command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; \
	done; \
	[ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || missing="$$missing libjemalloc2"; \
	[ -e /usr/lib/python3.11/test/test_dict.py ] || missing="$$missing libpython3.11-testsuite"; \
	if [ -n "$$missing" ]; then \
		echo "installing missing test dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@touch $@

# ---------------------------------------------------------------- library
build/pic/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

build/pic-debug/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(DEBUG_FLAGS) -MMD -MP -c $< -o $@

build/pic/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(LIB_CXXFLAGS) -MMD -MP -c $< -o $@

build/pic-debug/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(LIB_CXXFLAGS) $(DEBUG_FLAGS) -MMD -MP -c $< -o $@

build/test/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_LIB_CFLAGS) -MMD -MP -c $< -o $@

build/test-debug/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_LIB_CFLAGS) $(DEBUG_FLAGS) -MMD -MP -c $< -o $@

# The mode lib/ was last built in; rewritten (so lib/ relinks) only when it changes.
build/.mode: FORCE
	@mkdir -p build
	@[ "$$(cat $@ 2>/dev/null)" = "DEBUG=$(DEBUG)" ] || echo "DEBUG=$(DEBUG)" > $@

# One recipe each for the shared library and the archives, whichever build.
define link_so
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libstrata.so -Wl,-z,now -o $@ $(filter %.o,$^) $(LIB_LDLIBS)
endef
define archive
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(filter %.o,$^)
endef

lib/libstrata.so: $(PIC_OBJ) build/.mode
	$(link_so)

lib/libstrata.a: $(PIC_OBJ) build/.mode
	$(archive)

build/libstrata_internal.a: $(TST_OBJ)
	$(archive)

build/debug/lib/libstrata.so: $(DBG_PIC_OBJ)
	$(link_so)

build/debug/libstrata_internal.a: $(DBG_TST_OBJ)
	$(archive)

# strata.pc for a prefix: `make` writes lib/pkgconfig/strata.pc for PREFIX,
# and `make install` writes the installed one for the PREFIX it is given.
define write_pc
	@mkdir -p $(dir $(2))
	@printf '%s\n' 'prefix=$(1)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
		'Name: strata' 'Description: drop-in malloc with a sampling heap profiler' \
		'Version: 0.1.0' 'Libs: -L$${libdir} -lstrata' 'Libs.private: $(LIB_LDLIBS)' \
		'Cflags: -I$${includedir}' > $(2)
endef

lib/pkgconfig/strata.pc: Makefile FORCE
	$(call write_pc,$(PREFIX),$@)

-include $(PIC_OBJ:.o=.d) $(TST_OBJ:.o=.d) $(DBG_PIC_OBJ:.o=.d) $(DBG_TST_OBJ:.o=.d)

# ---------------------------------------------------------------- tests
# tests/check_<module>.c: one Check suite each, all run by tests/check_main.c in
# fork mode.  check_api*.c and check_stress.c link libstrata.so; every other
# suite links the internal archive under ASan/UBSan.
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)
API_TESTS      := $(sort $(wildcard tests/check_api*.c) $(wildcard tests/check_stress*.c))
# C++ API suites (tests/check_api*.cpp): built with g++, run with the others.
API_CXX_TESTS  := $(sort $(wildcard tests/check_api*.cpp))
API_TEST_BINS  := $(API_TESTS:tests/%.c=%) $(API_CXX_TESTS:tests/%.cpp=%)
JEPROF_TESTS   := $(wildcard tests/check_jeprof*.c)
INTERNAL_TESTS := $(filter-out tests/check_main.c $(API_TESTS) $(JEPROF_TESTS),$(wildcard tests/check_*.c))

# A unit suite links an internal archive ($(1): its sanitizer and extra
# flags, $(2): the archive); an API suite links a libstrata.so ($(1): its folder, $(2): the
# same folder relative to the test binary, for the rpath).
define link_unit_test
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE -DSTRATA_INTERNAL_TEST $(1) $(INCS) \
		$(CHECK_CFLAGS) -o $@ $< tests/check_main.c $(2) $(CHECK_LIBS) $(LIB_LDLIBS)
endef
define link_api_test
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE -Iinclude $(CHECK_CFLAGS) -o $@ $< tests/check_main.c \
		-L$(1) -Wl,-rpath,'$$ORIGIN/$(2)' -lstrata $(CHECK_LIBS) -lpthread -lz
endef
# The same for a C++ suite: check_main.c compiles as C++ with it, and
# -lstrata comes before libstdc++, so the operators are strata's.
define link_api_cxx_test
	@mkdir -p $(dir $@)
	$(CXX) -std=gnu++17 -O1 -g $(WARN) -D_GNU_SOURCE -Iinclude -Itests $(CHECK_CFLAGS) -o $@ $< \
		tests/check_main.c -L$(1) -Wl,-rpath,'$$ORIGIN/$(2)' -lstrata $(CHECK_LIBS) -lpthread -lz
endef
UNIT_TEST_DEPS := tests/check_main.c tests/thread_util.h tests/child_util.h tests/dump_util.h
API_TEST_DEPS  := tests/check_main.c tests/api_util.h tests/child_util.h tests/dump_util.h \
                  tests/rng_util.h tests/as_util.h

build/tests/%: tests/%.c $(UNIT_TEST_DEPS) build/libstrata_internal.a | deps
	$(call link_unit_test,$(SAN),build/libstrata_internal.a)

build/api/%: tests/%.c $(API_TEST_DEPS) lib/libstrata.so | deps
	$(call link_api_test,lib,../../lib)

build/api/%: tests/%.cpp $(API_TEST_DEPS) lib/libstrata.so | deps
	$(call link_api_cxx_test,lib,../../lib)

build/debug/tests/%: tests/%.c $(UNIT_TEST_DEPS) build/debug/libstrata_internal.a | deps
	$(call link_unit_test,$(SAN) $(DEBUG_FLAGS),build/debug/libstrata_internal.a)

build/debug/api/%: tests/%.c $(API_TEST_DEPS) build/debug/lib/libstrata.so | deps
	$(call link_api_test,build/debug/lib,../lib)

build/debug/api/%: tests/%.cpp $(API_TEST_DEPS) build/debug/lib/libstrata.so | deps
	$(call link_api_cxx_test,build/debug/lib,../lib)

check-unit: $(INTERNAL_TESTS:tests/%.c=build/tests/%)
	@set -e; for t in $^; do echo "== $$t"; ASAN_OPTIONS=detect_leaks=0 $$t; done

check-api: $(API_TEST_BINS:%=build/api/%)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

# The unit and API suites against the debug build: assertions and the
# lock-order witness on, so a broken invariant aborts the test that broke it.
check-debug: $(INTERNAL_TESTS:tests/%.c=build/debug/tests/%) $(API_TEST_BINS:%=build/debug/api/%)
	@set -e; for t in $^; do echo "== $$t"; ASAN_OPTIONS=detect_leaks=0 $$t; done

# make install writes strata.pc for the PREFIX it installs to.
check-install: all
	tests/install_pc.sh

check-programs: lib/libstrata.so test-deps
	tests/real_programs.sh

check-layers:
	@tests/check_layers.sh

check: all test-deps check-layers check-unit check-api check-stress-single check-debug \
	check-tsan check-install check-programs check-jeprof check-numa check-fuzz
	@echo "make check: all tests passed"

# ---------------------------------------------------------------- man page
# tools/mangen writes the generated blocks of man/strata.3 from the option
# table (src/conf.h) and the counter table (src/stats_counters.h): `make man`
# rewrites them; check_conf fails while the page is stale.
.PHONY: man
build/tools/mangen: tools/mangen.c $(PIC_DIR)/src/conf.o $(PIC_DIR)/src/msg.o \
		src/conf.h src/stats_counters.h src/mutex.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE $(INCS) -o $@ $(filter %.c %.o,$^)

man: build/tools/mangen
	build/tools/mangen man/strata.3

build/tests/check_conf build/debug/tests/check_conf: build/tools/mangen
build/tests/check_ctl_walk build/debug/tests/check_ctl_walk: tests/man_util.h
build/api/check_api_ctl_walk build/debug/api/check_api_ctl_walk: tests/man_util.h

# ---------------------------------------------------------------- demo, bench
demo: all
	@samples/run_demo.sh

bench: all
	bench/run
	$(MAKE) bench-jeprof
	$(MAKE) bench-numa

bench-quick: all
	bench/run --quick

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/jemalloc \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/bin
	install -m 755 lib/libstrata.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/libstrata.a $(DESTDIR)$(PREFIX)/lib/
	$(call write_pc,$(PREFIX),$(DESTDIR)$(PREFIX)/lib/pkgconfig/strata.pc)
	install -m 644 include/strata.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/jemalloc/jemalloc.h $(DESTDIR)$(PREFIX)/include/jemalloc/
	install -m 644 man/strata.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/jeprof.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 755 bin/jeprof $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build lib bin

# jeprof-c owns its build rules: bin/jeprof, check-jeprof, bench-jeprof.
include jeprof-c/jeprof.mk
include tests/stress.mk
include tests/tsan.mk
include tests/leak.mk
include tests/programs/programs.mk
include tests/numa/numa.mk
include tests/fuzz/fuzz.mk
