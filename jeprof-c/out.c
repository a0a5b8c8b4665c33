/*
 * out.c — shared number formatting and escaping of the output formats.
 * Values are doubles (unbiased sums); formatting truncates the way Perl's
 * sprintf("%d") does, so integers match the perl jeprof digit for digit.
 */
#include "out.h"

bool
out_is_objects(const out_options_t *o)
{
	return o->value == PROFILE_INUSE_OBJECTS || o->value == PROFILE_ALLOC_OBJECTS;
}

const char *
out_units(const out_options_t *o)
{
	if (out_is_objects(o))
		return "objects";
	return o->show_bytes ? "B" : "MB";
}

void
out_format_value(const out_options_t *o, double v, char *buf, size_t len)
{
	if (out_is_objects(o) || o->show_bytes)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%.1f", v / 1048576.0);
}

void
out_format_percent(double v, double total, char *buf, size_t len)
{
	if (total != 0)
		snprintf(buf, len, "%.1f%%", v * 100.0 / total);
	else
		snprintf(buf, len, "%s", v == 0 ? "nan" : v > 0 ? "+inf" : "-inf");
}

void
out_write_xml_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			/* Control characters are not allowed in XML 1.0 text. */
			fputc((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' ? '?' : *s, f);
			break;
		}
	}
}

const char *
out_program_name(const out_options_t *o)
{
	return o->program != NULL ? o->program : "jeprof";
}
