# tests/programs/programs.mk — the programs of tests/real_programs.sh that
# the repository carries as source.  Included from the top Makefile, which
# owns WARN, check-programs and the deps and test-deps steps.
#
#   build/programs/cxx_containers   tests/programs/cxx_containers.cpp: threads
#                                   passing standard containers and throwing
#                                   exceptions (g++, from deps)

PROGRAM_BINS := build/programs/cxx_containers

build/programs/cxx_containers: tests/programs/cxx_containers.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) -std=gnu++17 -O2 -g $(WARN) -pthread -o $@ $<

check-programs: $(PROGRAM_BINS)
