/*
 * out.h — what every output format shares: the report options and jeprof's
 * number formatting (docs/compat.md, "jeprof output"): MB with one decimal by default,
 * integer bytes with --show_bytes, integer counts for the object modes, and
 * percentages with one decimal.
 */
#ifndef JEPROF_OUT_H
#define JEPROF_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "graph.h"
#include "profile.h"

typedef struct out_options {
	enum profile_value value;
	bool show_bytes;
	bool by_cum;         /* --cum */
	long thread;         /* --thread, or -1 */
	bool has_base;       /* --base was given */
	const char *program; /* the program's path, for titles; may be NULL */
	long nodecount;      /* graph outputs: at most this many nodes */
	double nodefraction; /* drop nodes with |cum| <= nodefraction * |total| */
	double edgefraction; /* drop edges with |value| <= edgefraction * |total| */
	bool for_svg;        /* dot text meant for SVG (minimum edge width 1) */
} out_options_t;

/* Whether the value is a count of objects rather than bytes. */
bool out_is_objects(const out_options_t *o);

/* The unit word of the Total line: "MB", "B" or "objects". */
const char *out_units(const out_options_t *o);

/* jeprof's Unparse: writes v in the report unit into buf. */
void out_format_value(const out_options_t *o, double v, char *buf, size_t len);

/* jeprof's Percent: "12.5%", or nan/+inf/-inf when total is zero. */
void out_format_percent(double v, double total, char *buf, size_t len);

/* Writes s with XML's five special characters escaped. */
void out_write_xml_escaped(FILE *f, const char *s);

/* The program's display name: the given path or the profile's executable. */
const char *out_program_name(const out_options_t *o);

#endif
