/*
 * atomic.h — C11 atomics with the memory order in the name.  L0.
 */
#ifndef STRATA_ATOMIC_H
#define STRATA_ATOMIC_H

#include <stdatomic.h>
#include "config.h"

#define atomic_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define atomic_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define atomic_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define atomic_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define atomic_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define atomic_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define atomic_cas_acq_rel(p, expp, v)                                                     \
	atomic_compare_exchange_strong_explicit((p), (expp), (v), memory_order_acq_rel,     \
	                                        memory_order_acquire)

#endif
