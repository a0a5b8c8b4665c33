# tests/leak.mk — the programs the leak-report suite (tests/check_api_prof_leak.c)
# runs under LD_PRELOAD besides itself.  Included at the end of the top
# Makefile, which owns CSTD, WARN and the deps and test-deps steps.
#
#   build/leak/throw_catch   tests/leak/throw_catch.cpp: a C++ program that
#                            throws and catches in four threads and frees
#                            everything (g++, from test-deps)
#
# The suite also reads the final dumps with bin/jeprof, so its binaries
# (release and debug) wait for both.

LEAK_HELPERS := build/leak/throw_catch

build/leak/throw_catch: tests/leak/throw_catch.cpp | test-deps
	@mkdir -p $(dir $@)
	$(CXX) -O1 -g $(WARN) -pthread -o $@ $<

build/api/check_api_prof_leak build/debug/api/check_api_prof_leak: $(LEAK_HELPERS) bin/jeprof
