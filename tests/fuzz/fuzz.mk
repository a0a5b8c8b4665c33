# tests/fuzz/fuzz.mk — libFuzzer harnesses (docs/design.md, "Fuzzing").
# Included at the end of the top Makefile, which owns CSTD, WARN, INCS,
# SRC_C, LIB_LDLIBS and the deps step.
#
#   build/fuzz/src/*.o, build/fuzz/libstrata_fuzz.a
#       the allocator built a third time, with clang: -DSTRATA_INTERNAL_TEST
#       (every exported name is strata_test_*, src/public_names.h, so the
#       fuzzer's own malloc stays ASan's and strata is only the allocator
#       under test) and coverage for libFuzzer (fuzzer-no-link) under ASan
#       and UBSan.
#   build/fuzz/fuzz_<harness>
#       one program per tests/fuzz/fuzz_<harness>.c.
#
# make check-fuzz: each harness replays its committed corpus
# (tests/fuzz/corpus/<harness>/), then fuzzes for FUZZ_CHECK_RUNS inputs
# from a fixed seed; the number of executions is printed at the end.
# make fuzz: each harness fuzzes for FUZZ_TIME seconds (600 unless given),
# growing build/fuzz/corpus/<harness>/ (seeded from the committed one) and
# writing crashes to build/fuzz/crashes/.
#
# Debian's clang and libFuzzer (libclang-rt-14-dev) are installed when the
# check below finds them missing.

.PHONY: check-fuzz fuzz fuzz-deps

FUZZ_CC        := clang-14
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_LIB_CFLAGS := $(CSTD) -O1 -g $(WARN) -fvisibility=hidden -D_GNU_SOURCE \
	-DSTRATA_INTERNAL_TEST -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(INCS)
FUZZ_OBJ       := $(SRC_C:%.c=build/fuzz/%.o)
FUZZ_LIB       := build/fuzz/libstrata_fuzz.a
FUZZ_HARNESSES := api conf mallctl
FUZZ_BINS      := $(FUZZ_HARNESSES:%=build/fuzz/fuzz_%)
FUZZ_CHECK_RUNS ?= 3000
FUZZ_TIME      ?= 600

fuzz-deps: build/.fuzz-deps-ok
build/.fuzz-deps-ok: | deps
	@missing=""; \
	command -v $(FUZZ_CC) >/dev/null || missing="$$missing clang-14"; \
	ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || \
		missing="$$missing libclang-rt-14-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing missing fuzzing dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@touch $@

build/fuzz/%.o: %.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $(FUZZ_OBJ)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB) | fuzz-deps
	$(FUZZ_CC) $(CSTD) -O1 -g $(WARN) -D_GNU_SOURCE -DSTRATA_INTERNAL_TEST \
		-fsanitize=fuzzer $(FUZZ_SAN) $(INCS) -Itests -o $@ $< $(FUZZ_LIB) $(LIB_LDLIBS)

-include $(FUZZ_OBJ:.o=.d)
