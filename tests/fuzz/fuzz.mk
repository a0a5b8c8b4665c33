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
# (tests/fuzz/corpus/<harness>/), then fuzzes from a fixed seed up to
# FUZZ_CHECK_RUNS_<harness> executions; the number of executions is printed
# at the end.
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

# Dictionaries: the committed tokens plus the names man/strata.3 documents
# (options from TUNING; mallctl names whole and cut into components).
build/fuzz/conf.dict: tests/fuzz/conf.dict man/strata.3
	@mkdir -p $(dir $@)
	{ cat tests/fuzz/conf.dict; \
	  sed -n 's/^\\fB\([a-z0-9_]*\)\\fP (.*/"\1"/p' man/strata.3; } > $@

build/fuzz/mallctl.dict: tests/fuzz/mallctl.dict man/strata.3
	@mkdir -p $(dir $@)
	{ cat tests/fuzz/mallctl.dict; \
	  sed -n '/^\.SH MALLCTL NAMESPACE/,/^\.SH /s/^\.BR \([a-z][a-z0-9_.<>]*\) ".*/\1/p' \
		man/strata.3 | sed 's/<[ij]>/0/g' | \
		awk -F. '{ print "\"" $$0 "\""; for (i = 1; i <= NF; i++) print "\"" $$i "\"" }' | \
		sort -u; } > $@

# How a harness is run: inputs up to 1 KiB from the first one (long
# programs find more than libFuzzer's slow growth of the length); a hang of
# 30 s is a failure; crashes go to build/fuzz/crashes/.  conf and mallctl
# have a dictionary.
FUZZ_FLAGS := -max_len=1024 -len_control=0 -timeout=30 -print_final_stats=0 \
	-artifact_prefix=build/fuzz/crashes/
FUZZ_DICTS := build/fuzz/conf.dict build/fuzz/mallctl.dict

# Each harness loads (runs) its committed corpus, then fuzzes from a fixed
# seed; new units go to build/fuzz/check/<harness>/, never into tests/.
FUZZ_CHECK_RUNS_api     ?= 6000
FUZZ_CHECK_RUNS_conf    ?= 200000
FUZZ_CHECK_RUNS_mallctl ?= 60000

check-fuzz: $(FUZZ_BINS) $(FUZZ_DICTS)
	@set -e; mkdir -p build/fuzz/crashes; \
	for h in $(FUZZ_HARNESSES); do \
		echo "== build/fuzz/fuzz_$$h"; \
		rm -rf build/fuzz/check/$$h && mkdir -p build/fuzz/check/$$h; \
		runs=$$(case $$h in api) echo $(FUZZ_CHECK_RUNS_api);; \
			conf) echo $(FUZZ_CHECK_RUNS_conf);; *) echo $(FUZZ_CHECK_RUNS_mallctl);; esac); \
		if ! build/fuzz/fuzz_$$h $(FUZZ_FLAGS) $$(case $$h in api) ;; *) echo -dict=build/fuzz/$$h.dict;; esac) \
			-seed=1 -runs=$$runs build/fuzz/check/$$h tests/fuzz/corpus/$$h \
			> build/fuzz/check-$$h.log 2>&1; then \
			tail -60 build/fuzz/check-$$h.log; exit 1; \
		fi; \
	done; \
	for h in $(FUZZ_HARNESSES); do \
		echo "fuzz_$$h: $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' build/fuzz/check-$$h.log)"; \
	done

# Long runs: FUZZ_TIME seconds each, the corpus kept in build/fuzz/corpus/.
fuzz: $(FUZZ_BINS) $(FUZZ_DICTS)
	@set -e; mkdir -p build/fuzz/crashes; \
	for h in $(FUZZ_HARNESSES); do \
		echo "== build/fuzz/fuzz_$$h for $(FUZZ_TIME) s"; \
		mkdir -p build/fuzz/corpus/$$h; \
		build/fuzz/fuzz_$$h $(FUZZ_FLAGS) $$(case $$h in api) ;; *) echo -dict=build/fuzz/$$h.dict;; esac) \
			-max_total_time=$(FUZZ_TIME) build/fuzz/corpus/$$h tests/fuzz/corpus/$$h \
			> build/fuzz/fuzz-$$h.log 2>&1 || { tail -60 build/fuzz/fuzz-$$h.log; exit 1; }; \
		grep -o 'Done [0-9]* runs in [0-9]* second(s)' build/fuzz/fuzz-$$h.log; \
	done
