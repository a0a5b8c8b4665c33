/*
 * public_names.h — how the exported names are spelled.  L0.
 *
 * A normal build exports the plain libc/jemalloc names.  The internal test
 * archive (-DSTRATA_INTERNAL_TEST) is linked into ASan/UBSan programs, whose
 * runtime owns malloc: there every exported name gets a strata_test_ prefix.
 * Included, before strata.h, only by the files that define exported symbols.
 */
#ifndef STRATA_PUBLIC_NAMES_H
#define STRATA_PUBLIC_NAMES_H

#ifdef STRATA_INTERNAL_TEST
#define malloc strata_test_malloc
#define calloc strata_test_calloc
#define realloc strata_test_realloc
#define reallocarray strata_test_reallocarray
#define free strata_test_free
#define posix_memalign strata_test_posix_memalign
#define aligned_alloc strata_test_aligned_alloc
#define memalign strata_test_memalign
#define valloc strata_test_valloc
#define pvalloc strata_test_pvalloc
#define malloc_usable_size strata_test_malloc_usable_size
#define malloc_trim strata_test_malloc_trim
#define mallopt strata_test_mallopt
#define mallinfo2 strata_test_mallinfo2
#define mallocx strata_test_mallocx
#define rallocx strata_test_rallocx
#define xallocx strata_test_xallocx
#define sallocx strata_test_sallocx
#define dallocx strata_test_dallocx
#define sdallocx strata_test_sdallocx
#define nallocx strata_test_nallocx
#define mallctl strata_test_mallctl
#define mallctlnametomib strata_test_mallctlnametomib
#define mallctlbymib strata_test_mallctlbymib
#define malloc_stats_print strata_test_malloc_stats_print
#define malloc_message strata_test_malloc_message
#define malloc_conf strata_test_malloc_conf
#define malloc_conf_2_conf_harder strata_test_malloc_conf_2_conf_harder
#endif

#endif
