# tests/tsan.mk — `make check-tsan`: the multi-threaded unit and API suites
# under ThreadSanitizer.  Included at the end of the top Makefile, which owns
# CC, CSTD, WARN, INCS, SRC_C, CHECK_CFLAGS, CHECK_LIBS, INTERNAL_TESTS,
# API_TESTS and the deps step.
#
#   build/tsan/src/*.o, build/tsan/libstrata_tsan.a
#       the allocator under -fsanitize=thread with -DSTRATA_INTERNAL_TEST:
#       every exported name is strata_test_* (src/public_names.h), so the
#       archive links into a program whose TSan runtime owns malloc.
#   build/tsan/tests/check_<module>
#       unit suites that start threads, linked with the archive.
#   build/tsan/api/check_<suite>
#       API suites that start threads, compiled with
#       -include src/public_names.h so that their malloc/free/mallocx/
#       mallctl calls go to the same archive (not to TSan's malloc, not to
#       lib/libstrata.so).
#
# Which suites: those that call pthread_create (selected by grep below, so a
# new multi-threaded suite is picked up); single-threaded ones cannot race.
# Today: the unit suites arena_select, base, mutex, pages, prof, tcache and
# tsd; the API suites api_process, api_prof_triggers, api_remote, api_tcache
# and stress.
#
# check_api_prof_leak is left out: its threads run only in child processes
# (the suite's own program and others, under LD_PRELOAD of the shared
# library), where TSan does not look.
#
# check_api_prof and check_api_prof_recent are left out: they check what
# stacks contain, and only the shared library drops strata's own frames
# from a stack (the test archive is part of the test program); and
# libunwind's per-thread cache destructor crashes inside TSan's runtime at
# thread exit, so under TSan no thread but the main one may sample
# (check_api_prof_triggers keeps to that).
# check_prof covers the profiler's locking under TSan, with stacks given by
# the test instead of unwound.
#
# -DSTRATA_TSAN tells a suite it runs here.  check_api_process does not
# start a thread in the child of a multi-threaded fork(), which TSan does
# not support (fork itself, and malloc/free in the child, still run), and
# check_tsd leaves out the one test whose fork child starts threads.
# -DSTRATA_INTERNAL_TEST marks the prefixed build: there libc's own
# allocations (strdup, Check's) do not reach strata, and check_api_process
# and check_api_tcache adapt the two places that depended on it.
#
# TSan's options: halt_on_error=1 (the first report fails the test), the
# suppressions in tests/tsan.supp (each one explained there), and a longer
# per-thread history (history_size=4) so that both stacks of a report are
# restored and a suppression matches whichever access came second.

.PHONY: check-tsan

TSAN_CFLAGS     := $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE -fsanitize=thread \
	-DSTRATA_INTERNAL_TEST -DSTRATA_TSAN
TSAN_LIB_CFLAGS := $(TSAN_CFLAGS) -fvisibility=hidden $(INCS)
TSAN_OBJ        := $(SRC_C:%.c=build/tsan/%.o)
TSAN_LIB        := build/tsan/libstrata_tsan.a

TSAN_UNIT_TESTS := $(shell grep -l pthread_create $(INTERNAL_TESTS) /dev/null)
# check_api_fixes defines malloc_message and malloc_conf, which only a shared
# library lets a program interpose; its fork-during-purge case runs here
# through check_pages instead.  check_api_purge judges a re-executed
# child's RSS, and its child runs before the archive's constructor lets the
# purger start; the purger's races are checked here through check_purge.
TSAN_API_TESTS  := $(filter-out tests/check_api_fixes.c tests/check_api_prof.c \
	tests/check_api_prof_recent.c tests/check_api_prof_leak.c tests/check_api_purge.c,\
	$(shell grep -l pthread_create $(API_TESTS) /dev/null))
TSAN_CHECKS     := $(TSAN_UNIT_TESTS:tests/%.c=build/tsan/tests/%) \
	$(TSAN_API_TESTS:tests/%.c=build/tsan/api/%)

TSAN_RUN_OPTIONS := halt_on_error=1 history_size=4 \
	suppressions=$(CURDIR)/tests/tsan.supp

build/tsan/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_LIB_CFLAGS) -MMD -MP -c $< -o $@

$(TSAN_LIB): $(TSAN_OBJ)
	rm -f $@ && ar rcs $@ $(TSAN_OBJ)

build/tsan/tests/%: tests/%.c $(UNIT_TEST_DEPS) $(TSAN_LIB) | deps
	$(call link_unit_test,-fsanitize=thread -DSTRATA_TSAN,$(TSAN_LIB))

build/tsan/api/%: tests/%.c $(API_TEST_DEPS) src/public_names.h \
		$(TSAN_LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_CFLAGS) -include src/public_names.h -Iinclude $(CHECK_CFLAGS) -o $@ $< \
		tests/check_main.c $(TSAN_LIB) $(CHECK_LIBS) $(LIB_LDLIBS)

check-tsan: $(TSAN_CHECKS) tests/tsan.supp
	@set -e; for t in $(TSAN_CHECKS); do echo "== $$t"; \
		TSAN_OPTIONS="$(TSAN_RUN_OPTIONS)" $$t; done

-include $(TSAN_OBJ:.o=.d)
