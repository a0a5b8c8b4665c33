# tests/stress.mk — check-stress-single: the API stress test
# (build/api/check_stress, tests/check_stress.c) run again with
# MALLOC_CONF=narenas:1, so that all of its threads share one arena's bins
# and pages.  check_stress.c sets neither MALLOC_CONF nor malloc_conf, so the
# environment decides.  stats_print:true makes each process of the run (the
# forked test child and Check's parent) print its statistics at exit; the
# run passes only if the test passed, every report says "Arenas: 1" and no
# arena other than arenas[0] is listed.  The full output is kept in
# build/api/check_stress_single.log.
.PHONY: check-stress-single
check-stress-single: build/api/check_stress
	@echo "== $< (MALLOC_CONF=narenas:1)"
	@log=build/api/check_stress_single.log; \
	MALLOC_CONF=narenas:1,stats_print:true $< > $$log 2>&1; rc=$$?; \
	grep -E '^(Running suite|[0-9]+%: Checks)|:[EF]:' $$log; \
	if [ $$rc -ne 0 ]; then echo "check-stress-single: test failed (see $$log)"; exit 1; fi; \
	reports=$$(grep -c '^___ Begin jemalloc statistics ___' $$log); \
	single=$$(grep -c '^Arenas: 1$$' $$log); \
	if [ "$$reports" -lt 1 ] || [ "$$single" -ne "$$reports" ] || \
	   grep -q '^arenas\[[1-9]' $$log; then \
		echo "check-stress-single: the run did not use exactly one arena (see $$log)"; \
		exit 1; \
	fi; \
	echo "one arena: $$single of $$reports stats reports say 'Arenas: 1'"
