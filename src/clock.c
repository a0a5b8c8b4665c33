/*
 * clock.c — the test override of clock.h's clock.  See clock.h.
 */
#include "clock.h"

_Atomic uint64_t clock_test_now_ns;
