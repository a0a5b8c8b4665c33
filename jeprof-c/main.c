/*
 * main.c — the jeprof command line: options compatible with jemalloc's perl
 * jeprof for what users type (docs/compat.md, "jeprof command line"), then the pipeline
 * read -> symbolize -> graph -> one output format.
 *
 *   jeprof [options] <program> <profile>...
 *   jeprof [options] <profile>...        (program taken from the mappings)
 *   jeprof --recent [options] [<program>] <file.recent.json[.gz]>
 *                                          read -> symbolize -> out_recent
 *
 * Exit status: 0 on success, 1 on any error (bad option, unreadable or
 * malformed profile, failed output), with one message on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mem.h"
#include "out.h"
#include "out_callgrind.h"
#include "out_collapsed.h"
#include "out_dot.h"
#include "out_flame.h"
#include "out_pprof.h"
#include "out_raw.h"
#include "out_recent.h"
#include "out_text.h"
#include "profile.h"
#include "read.h"
#include "recent.h"
#include "symbolize.h"

#define JEPROF_VERSION "0.1.0"

enum main_mode {
	MAIN_TEXT,
	MAIN_DOT,
	MAIN_SVG,
	MAIN_PDF,
	MAIN_COLLAPSED,
	MAIN_CALLGRIND,
	MAIN_RAW,
	MAIN_FLAME,
	MAIN_PROTO,
};

typedef struct main_args {
	enum main_mode mode;
	bool recent; /* --recent: the records of a prof_recent file */
	graph_options_t graph;
	out_options_t out;
	out_recent_options_t recent_out;
	const char *not_for_recent; /* the last option given that --recent has no use for */
	const char *only_for_recent; /* the last --recent filter given */
	const char *base;
	const char **debug_dirs;
	size_t ndebug_dirs, capdebug_dirs;
	const char *program;
	char **profiles;
	int nprofiles;
} main_args_t;

enum main_option {
	OPT_TEXT = 256,
	OPT_DOT,
	OPT_SVG,
	OPT_PDF,
	OPT_COLLAPSED,
	OPT_CALLGRIND,
	OPT_RAW,
	OPT_FLAME,
	OPT_PROTO,
	OPT_INUSE_SPACE,
	OPT_INUSE_OBJECTS,
	OPT_ALLOC_SPACE,
	OPT_ALLOC_OBJECTS,
	OPT_SHOW_BYTES,
	OPT_FUNCTIONS,
	OPT_LINES,
	OPT_ADDRESSES,
	OPT_FILES,
	OPT_BASE,
	OPT_DROP_NEGATIVE,
	OPT_FOCUS,
	OPT_IGNORE,
	OPT_NODECOUNT,
	OPT_NODEFRACTION,
	OPT_EDGEFRACTION,
	OPT_CUM,
	OPT_THREAD,
	OPT_DEBUG_DIR,
	OPT_RECENT,
	OPT_MIN_SIZE,
	OPT_MAX_SIZE,
	OPT_RECENT_MAX,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option main_options[] = {
	{"text", no_argument, NULL, OPT_TEXT},
	{"dot", no_argument, NULL, OPT_DOT},
	{"svg", no_argument, NULL, OPT_SVG},
	{"pdf", no_argument, NULL, OPT_PDF},
	{"collapsed", no_argument, NULL, OPT_COLLAPSED},
	{"callgrind", no_argument, NULL, OPT_CALLGRIND},
	{"raw", no_argument, NULL, OPT_RAW},
	{"flame", no_argument, NULL, OPT_FLAME},
	{"proto", no_argument, NULL, OPT_PROTO},
	{"inuse_space", no_argument, NULL, OPT_INUSE_SPACE},
	{"inuse_objects", no_argument, NULL, OPT_INUSE_OBJECTS},
	{"alloc_space", no_argument, NULL, OPT_ALLOC_SPACE},
	{"alloc_objects", no_argument, NULL, OPT_ALLOC_OBJECTS},
	{"show_bytes", no_argument, NULL, OPT_SHOW_BYTES},
	{"functions", no_argument, NULL, OPT_FUNCTIONS},
	{"lines", no_argument, NULL, OPT_LINES},
	{"addresses", no_argument, NULL, OPT_ADDRESSES},
	{"files", no_argument, NULL, OPT_FILES},
	{"base", required_argument, NULL, OPT_BASE},
	{"drop_negative", no_argument, NULL, OPT_DROP_NEGATIVE},
	{"focus", required_argument, NULL, OPT_FOCUS},
	{"ignore", required_argument, NULL, OPT_IGNORE},
	{"nodecount", required_argument, NULL, OPT_NODECOUNT},
	{"nodefraction", required_argument, NULL, OPT_NODEFRACTION},
	{"edgefraction", required_argument, NULL, OPT_EDGEFRACTION},
	{"cum", no_argument, NULL, OPT_CUM},
	{"thread", required_argument, NULL, OPT_THREAD},
	{"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
	{"recent", no_argument, NULL, OPT_RECENT},
	{"min_size", required_argument, NULL, OPT_MIN_SIZE},
	{"max_size", required_argument, NULL, OPT_MAX_SIZE},
	{"recent_max", required_argument, NULL, OPT_RECENT_MAX},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static void
main_print_usage(FILE *f)
{
	fputs("Usage: jeprof [options] <program> <profiles>...\n"
	      "       jeprof [options] <profiles>...   (program taken from the profile's mappings)\n"
	      "Profiles: heap_v2 dumps of jemalloc or strata, plain or gzip; several are summed.\n"
	      "Output (default --text):\n"
	      "  --text --dot --svg --pdf --collapsed --callgrind --raw --flame --proto\n"
	      "Value: --inuse_space (default) --inuse_objects --alloc_space --alloc_objects"
	      " --show_bytes\n"
	      "Granularity: --functions (default) --lines --addresses --files\n"
	      "Diff: --base=<profile> --drop_negative\n"
	      "Selection: --focus=<regex> --ignore=<regex> --thread=<n> --cum\n"
	      "Graph pruning: --nodecount=<n> (80) --nodefraction=<f> (0.005)"
	      " --edgefraction=<f> (0.001)\n"
	      "Symbols: --debug-dir=<dir> (repeatable; /usr/lib/debug is always searched)\n"
	      "Recent allocations: jeprof --recent [options] [<program>] <file.recent.json[.gz]>\n"
	      "  prints the records of a prof_recent file, newest first; filters:\n"
	      "  --min_size=<bytes> --max_size=<bytes> --recent_max=<n> --focus --ignore --thread\n"
	      "Other: --help --version\n",
	      f);
}

static int
main_parse_number(const char *opt, const char *arg, double min, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= min)) {
		fprintf(stderr, "jeprof: --%s=%s: not a valid number\n", opt, arg);
		return EINVAL;
	}
	*out = v;
	return 0;
}

/* A byte size or a count: a decimal integer, exact up to 2^64 - 1. */
static int
main_parse_count(const char *opt, const char *arg, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno != 0 || arg[0] < '0' || arg[0] > '9' || *end != '\0') {
		fprintf(stderr, "jeprof: --%s=%s: not a non-negative integer\n", opt, arg);
		return EINVAL;
	}
	*out = v;
	return 0;
}

/* Whether option c means something with --recent. */
static bool
main_is_recent_option(int c)
{
	switch (c) {
	case OPT_RECENT:
	case OPT_MIN_SIZE:
	case OPT_MAX_SIZE:
	case OPT_RECENT_MAX:
	case OPT_FOCUS:
	case OPT_IGNORE:
	case OPT_THREAD:
	case OPT_DEBUG_DIR:
		return true;
	default:
		return false;
	}
}

/* The operands of --recent: [<program>] <file>. */
static int
main_parse_recent_operands(main_args_t *a, int n, char **operands)
{
	if (a->not_for_recent != NULL) {
		fprintf(stderr,
			"jeprof: --%s cannot be combined with --recent (it prints its own table)\n",
			a->not_for_recent);
		return EINVAL;
	}
	if (n < 1 || n > 2) {
		fputs("jeprof: --recent reads one file: "
		      "jeprof --recent [options] [<program>] <file.recent.json[.gz]>\n",
		      stderr);
		return EINVAL;
	}
	a->program = n == 2 ? operands[0] : NULL;
	a->profiles = operands + n - 1;
	a->nprofiles = 1;
	return 0;
}

/* Returns 0 to run, -1 when done (help/version), or an errno value. */
static int
main_parse_args(main_args_t *a, int argc, char **argv)
{
	double num;
	uint64_t count;
	int c, index;
	while ((c = getopt_long_only(argc, argv, "", main_options, &index)) != -1) {
		if (c >= OPT_TEXT && !main_is_recent_option(c))
			a->not_for_recent = main_options[index].name;
		switch (c) {
		case OPT_TEXT:
		case OPT_DOT:
		case OPT_SVG:
		case OPT_PDF:
		case OPT_COLLAPSED:
		case OPT_CALLGRIND:
		case OPT_RAW:
		case OPT_FLAME:
		case OPT_PROTO:
			a->mode = (enum main_mode)(c - OPT_TEXT);
			break;
		case OPT_INUSE_SPACE:
			a->graph.value = PROFILE_INUSE_SPACE;
			break;
		case OPT_INUSE_OBJECTS:
			a->graph.value = PROFILE_INUSE_OBJECTS;
			break;
		case OPT_ALLOC_SPACE:
			a->graph.value = PROFILE_ALLOC_SPACE;
			break;
		case OPT_ALLOC_OBJECTS:
			a->graph.value = PROFILE_ALLOC_OBJECTS;
			break;
		case OPT_SHOW_BYTES:
			a->out.show_bytes = true;
			break;
		case OPT_FUNCTIONS:
		case OPT_LINES:
		case OPT_ADDRESSES:
		case OPT_FILES:
			a->graph.granularity = (enum graph_granularity)(c - OPT_FUNCTIONS);
			break;
		case OPT_BASE:
			a->base = optarg;
			break;
		case OPT_DROP_NEGATIVE:
			a->graph.drop_negative = true;
			break;
		case OPT_FOCUS:
			a->graph.focus = optarg;
			break;
		case OPT_IGNORE:
			a->graph.ignore = optarg;
			break;
		case OPT_NODECOUNT:
			if (main_parse_number("nodecount", optarg, 0, &num) != 0)
				return EINVAL;
			a->out.nodecount = (long)num;
			break;
		case OPT_NODEFRACTION:
			if (main_parse_number("nodefraction", optarg, 0, &a->out.nodefraction) != 0)
				return EINVAL;
			break;
		case OPT_EDGEFRACTION:
			if (main_parse_number("edgefraction", optarg, 0, &a->out.edgefraction) != 0)
				return EINVAL;
			break;
		case OPT_CUM:
			a->out.by_cum = true;
			break;
		case OPT_THREAD:
			if (strcmp(optarg, "*") == 0) {
				a->out.thread = -1;
				break;
			}
			if (main_parse_number("thread", optarg, 0, &num) != 0 || num != (long)num)
				return EINVAL;
			a->out.thread = (long)num;
			break;
		case OPT_DEBUG_DIR:
			mem_grow(&a->debug_dirs, &a->capdebug_dirs, a->ndebug_dirs + 1,
				 sizeof(*a->debug_dirs));
			a->debug_dirs[a->ndebug_dirs++] = optarg;
			break;
		case OPT_RECENT:
			a->recent = true;
			break;
		case OPT_MIN_SIZE:
		case OPT_MAX_SIZE:
			a->only_for_recent = main_options[index].name;
			if (main_parse_count(a->only_for_recent, optarg,
					     c == OPT_MIN_SIZE ? &a->recent_out.min_size
							       : &a->recent_out.max_size) != 0)
				return EINVAL;
			break;
		case OPT_RECENT_MAX:
			a->only_for_recent = main_options[index].name;
			if (main_parse_count(a->only_for_recent, optarg, &count) != 0)
				return EINVAL;
			a->recent_out.max_records = count < SIZE_MAX ? (size_t)count : SIZE_MAX;
			break;
		case OPT_HELP:
			main_print_usage(stdout);
			return -1;
		case OPT_VERSION:
			printf("jeprof (strata) %s\n", JEPROF_VERSION);
			return -1;
		default:
			main_print_usage(stderr);
			return EINVAL;
		}
	}
	int first = optind;
	if (a->recent)
		return main_parse_recent_operands(a, argc - first, argv + first);
	if (a->only_for_recent != NULL) {
		fprintf(stderr, "jeprof: --%s applies only to --recent\n", a->only_for_recent);
		return EINVAL;
	}
	if (first < argc && !read_is_profile(argv[first]) && argc - first >= 2)
		a->program = argv[first++];
	if (first >= argc) {
		fputs("jeprof: no profile given\n", stderr);
		main_print_usage(stderr);
		return EINVAL;
	}
	a->profiles = argv + first;
	a->nprofiles = argc - first;
	return 0;
}

static int
main_write_output(const main_args_t *a, const profile_t *p, diag_t *d)
{
	if (a->mode == MAIN_RAW)
		return out_raw_write(stdout, p, a->program, d);
	if (a->mode == MAIN_PROTO)
		return out_pprof_write(stdout, p, &a->out, d);
	graph_options_t go = a->graph;
	if (a->mode == MAIN_CALLGRIND)
		go.granularity = GRAPH_LINES; /* callgrind needs file and line of each node */
	graph_t g;
	int err = graph_build(&g, p, &go, d);
	if (err != 0)
		return err;
	switch (a->mode) {
	case MAIN_DOT:
		out_dot_write(stdout, &g, &a->out);
		break;
	case MAIN_SVG:
	case MAIN_PDF:
		err = out_dot_render(&g, &a->out, a->mode == MAIN_SVG ? "svg" : "pdf", d);
		break;
	case MAIN_COLLAPSED:
		out_collapsed_write(stdout, &g);
		break;
	case MAIN_CALLGRIND:
		out_callgrind_write(stdout, &g);
		break;
	case MAIN_FLAME:
		out_flame_write(stdout, &g, &a->out);
		break;
	default:
		out_text_write(stdout, &g, &a->out);
		break;
	}
	graph_fini(&g);
	return err;
}

static void
main_symbolize(const main_args_t *a, profile_t *p)
{
	symbolize_options_t so = {
		.program = a->program,
		.debug_dirs = a->debug_dirs,
		.ndebug_dirs = a->ndebug_dirs,
	};
	symbolize_profile(p, &so);
}

/* A heap profile; a prof_recent file gets a hint instead of the reader's error. */
static int
main_read_profile(profile_t *p, const char *path, long thread, bool is_base, diag_t *d)
{
	if (recent_is_file(path))
		return diag_fail(d, "%s: this is a prof_recent JSON file, not a heap profile: "
				    "use --recent",
				 path);
	return read_profile_file(p, path, thread, is_base, d);
}

static int
main_run_profiles(main_args_t *a, diag_t *d)
{
	profile_t p;
	profile_init(&p);
	int err = 0;
	long thread = a->out.thread >= 0 ? a->out.thread : READ_ALL_THREADS;
	for (int i = 0; i < a->nprofiles && err == 0; i++)
		err = main_read_profile(&p, a->profiles[i], thread, false, d);
	if (err == 0 && a->base != NULL)
		err = main_read_profile(&p, a->base, thread, true, d);
	if (err == 0) {
		main_symbolize(a, &p);
		a->out.program = a->program != NULL ? a->program : symbolize_program_path(&p, 0);
		a->out.has_base = a->base != NULL;
		err = main_write_output(a, &p, d);
	}
	profile_fini(&p);
	return err;
}

static int
main_run_recent(main_args_t *a, diag_t *d)
{
	recent_t r;
	recent_init(&r);
	int err = recent_read_file(&r, a->profiles[0], a->program, d);
	if (err == 0) {
		main_symbolize(a, &r.prof);
		a->recent_out.focus = a->graph.focus;
		a->recent_out.ignore = a->graph.ignore;
		a->recent_out.thread = a->out.thread;
		err = out_recent_write(stdout, &r, &a->recent_out, d);
	}
	recent_fini(&r);
	return err;
}

static int
main_run(main_args_t *a, diag_t *d)
{
	int err = a->recent ? main_run_recent(a, d) : main_run_profiles(a, d);
	if (err == 0 && (fflush(stdout) != 0 || ferror(stdout)))
		err = diag_fail(d, "writing the output: %s", strerror(errno));
	return err;
}

int
main(int argc, char **argv)
{
	main_args_t a = {
		.mode = MAIN_TEXT,
		.graph = {.granularity = GRAPH_FUNCTIONS, .value = PROFILE_INUSE_SPACE},
		.out = {.thread = -1, .nodecount = 80, .nodefraction = 0.005, .edgefraction = 0.001},
		.recent_out = {.max_size = UINT64_MAX, .thread = -1, .max_records = SIZE_MAX},
	};
	int err = main_parse_args(&a, argc, argv);
	if (err == 0) {
		a.out.value = a.graph.value;
		a.out.for_svg = a.mode == MAIN_SVG || a.mode == MAIN_PDF;
		diag_t d = {0};
		err = main_run(&a, &d);
		if (err != 0)
			fprintf(stderr, "jeprof: %s\n", d.set ? d.msg : strerror(err));
	}
	free(a.debug_dirs);
	return err > 0 ? 1 : 0;
}
