/*
 * check_main.c — the one main() of every Check suite binary.
 *
 * Each tests/check_<module>.c defines `Suite *test_suite(void)`; this runs it
 * in fork mode (each test in its own child, so an expected abort or signal is
 * a test outcome and a crash cannot take the other tests with it) and exits
 * non-zero if any test failed.
 */
#include <check.h>
#include <stdlib.h>

Suite *test_suite(void);

int
main(void)
{
	SRunner *runner = srunner_create(test_suite());
	srunner_set_fork_status(runner, CK_FORK);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
