/*
 * out_flame.c — flame graph as SVG.
 *
 * The merged stacks become a tree (root = all, children sorted by name);
 * each tree frame has the value of the newer profile ("after", its width)
 * and the diff against the base ("delta", its colour when --base is given).
 * The layout is an icicle: the outermost frames sit just under the title and
 * callees hang below them, so a browser opens a deep profile (hundreds of
 * frames) on its root and widest frames, not on an empty top.
 * Invariants: a child's width never exceeds its parent's; frames narrower
 * than OUT_FLAME_MIN_PX are not drawn; every name is XML-escaped, so the
 * document is well-formed whatever the symbols contain.
 */
#include "out_flame.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OUT_FLAME_WIDTH 1200.0
#define OUT_FLAME_PAD 10.0
#define OUT_FLAME_FRAME 16.0
#define OUT_FLAME_TOP 60.0
#define OUT_FLAME_MIN_PX 0.1
#define OUT_FLAME_CHAR_PX 7.0

typedef struct out_flame_frame {
	uint32_t node; /* graph node, UINT32_MAX for the root */
	uint32_t first_child, next_sibling;
	uint32_t depth;
	double after, delta;
} out_flame_frame_t;

typedef struct out_flame_tree {
	out_flame_frame_t *frames;
	size_t n, cap;
	uint32_t max_depth;
} out_flame_tree_t;

static uint32_t
out_flame_child(out_flame_tree_t *t, uint32_t parent, uint32_t node)
{
	for (uint32_t c = t->frames[parent].first_child; c != 0; c = t->frames[c].next_sibling)
		if (t->frames[c].node == node)
			return c;
	mem_grow(&t->frames, &t->cap, t->n + 1, sizeof(*t->frames));
	uint32_t id = (uint32_t)t->n++;
	t->frames[id] = (out_flame_frame_t){
		.node = node,
		.next_sibling = t->frames[parent].first_child,
		.depth = t->frames[parent].depth + 1,
	};
	t->frames[parent].first_child = id;
	if (t->frames[id].depth > t->max_depth)
		t->max_depth = t->frames[id].depth;
	return id;
}

static void
out_flame_build(out_flame_tree_t *t, const graph_t *g)
{
	memset(t, 0, sizeof(*t));
	mem_grow(&t->frames, &t->cap, 1, sizeof(*t->frames));
	t->frames[0] = (out_flame_frame_t){.node = UINT32_MAX};
	t->n = 1;
	for (size_t s = 0; s < g->nstacks; s++) {
		const graph_stack_t *st = &g->stacks[s];
		double after = st->value + st->base;
		if (st->n == 0 || (after <= 0 && st->value == 0))
			continue;
		uint32_t cur = 0;
		t->frames[0].after += after;
		t->frames[0].delta += st->value;
		for (uint32_t i = st->n; i > 0; i--) {
			cur = out_flame_child(t, cur, g->path[st->first + i - 1]);
			t->frames[cur].after += after;
			t->frames[cur].delta += st->value;
		}
	}
}

static const out_flame_tree_t *out_flame_sort_tree;
static const graph_t *out_flame_sort_graph;

static int
out_flame_compare_children(const void *a, const void *b)
{
	const out_flame_frame_t *x = &out_flame_sort_tree->frames[*(const uint32_t *)a];
	const out_flame_frame_t *y = &out_flame_sort_tree->frames[*(const uint32_t *)b];
	return strcmp(graph_node_name(out_flame_sort_graph, x->node),
		      graph_node_name(out_flame_sort_graph, y->node));
}

/* The fill colour: a warm hue hashed from the name, or growth red / shrink blue. */
static void
out_flame_colour(const out_options_t *o, const char *name, const out_flame_frame_t *fr,
		 double max_delta, char *buf, size_t len)
{
	if (o->has_base) {
		double i = max_delta > 0 ? fabs(fr->delta) / max_delta : 0;
		int fade = (int)lround(235 * (1 - (i > 1 ? 1 : i)));
		if (fr->delta > 0)
			snprintf(buf, len, "rgb(255,%d,%d)", fade, fade);
		else if (fr->delta < 0)
			snprintf(buf, len, "rgb(%d,%d,255)", fade, fade);
		else
			snprintf(buf, len, "rgb(235,235,235)");
		return;
	}
	uint64_t h = strtab_hash_bytes(name, strlen(name), STRTAB_HASH_SEED);
	unsigned v1 = h & 0xff, v2 = (h >> 8) & 0xff, v3 = (h >> 16) & 0xff;
	snprintf(buf, len, "rgb(%u,%u,%u)", 205 + 50 * v1 / 255, 230 * v2 / 255, 55 * v3 / 255);
}

typedef struct out_flame_ctx {
	FILE *f;
	const graph_t *g;
	const out_options_t *o;
	const out_flame_tree_t *t;
	double scale; /* pixels per unit of value */
	double total;
	double max_delta;
} out_flame_ctx_t;

static void
out_flame_write_frame(out_flame_ctx_t *c, uint32_t id, double x)
{
	const out_flame_frame_t *fr = &c->t->frames[id];
	double w = fr->after * c->scale;
	if (w < OUT_FLAME_MIN_PX)
		return;
	if (id != 0) {
		const char *name = graph_node_name(c->g, fr->node);
		double y = OUT_FLAME_TOP + (fr->depth - 1) * OUT_FLAME_FRAME;
		char colour[32], value[64], pct[32];
		out_flame_colour(c->o, name, fr, c->max_delta, colour, sizeof(colour));
		out_format_value(c->o, fr->after, value, sizeof(value));
		out_format_percent(fr->after, c->total, pct, sizeof(pct));
		fprintf(c->f, "<g class=\"f\" data-x=\"%.2f\" data-w=\"%.2f\" data-d=\"%u\"><title>",
			x, w, fr->depth);
		out_write_xml_escaped(c->f, name);
		fprintf(c->f, " (%s %s, %s", value, out_units(c->o), pct);
		if (c->o->has_base) {
			char delta[64];
			out_format_value(c->o, fr->delta, delta, sizeof(delta));
			fprintf(c->f, ", %s%s vs base", fr->delta > 0 ? "+" : "", delta);
		}
		fprintf(c->f, ")</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
			      "fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
			x, y, w, OUT_FLAME_FRAME - 1, colour, x + 3, y + 11.5);
		size_t fit = w > 6 ? (size_t)((w - 6) / OUT_FLAME_CHAR_PX) : 0;
		size_t len = strlen(name);
		if (fit >= 3) {
			char *shown = mem_strdup(name);
			if (len > fit)
				strcpy(shown + fit - 2, "..");
			out_write_xml_escaped(c->f, shown);
			free(shown);
		}
		fputs("</text></g>\n", c->f);
	}
	size_t nchildren = 0;
	for (uint32_t ch = fr->first_child; ch != 0; ch = c->t->frames[ch].next_sibling)
		nchildren++;
	uint32_t *children = mem_alloc((nchildren + 1) * sizeof(*children));
	nchildren = 0;
	for (uint32_t ch = fr->first_child; ch != 0; ch = c->t->frames[ch].next_sibling)
		children[nchildren++] = ch;
	out_flame_sort_tree = c->t;
	out_flame_sort_graph = c->g;
	qsort(children, nchildren, sizeof(*children), out_flame_compare_children);
	for (size_t i = 0; i < nchildren; i++) {
		out_flame_write_frame(c, children[i], x);
		x += c->t->frames[children[i]].after * c->scale;
	}
	free(children);
}

/* Zoom, reset and search; frames carry their unzoomed geometry in data-*. */
static const char out_flame_script[] =
	"var W=parseFloat(document.documentElement.getAttribute('width'))-20,P=10,CW=7;\n"
	"function frames(){return document.querySelectorAll('g.f');}\n"
	"function label(g){var t=g.querySelector('title').textContent;"
	"return t.substring(0,t.lastIndexOf(' ('));}\n"
	"function place(g,x,w){var r=g.querySelector('rect'),t=g.querySelector('text');"
	"r.setAttribute('x',x);r.setAttribute('width',w);t.setAttribute('x',x+3);"
	"var n=label(g),fit=Math.floor((w-6)/CW);"
	"t.textContent=fit<3?'':(n.length>fit?n.substring(0,fit-2)+'..':n);}\n"
	"function zoom(z){var zx=parseFloat(z.dataset.x),zw=parseFloat(z.dataset.w),"
	"zd=parseInt(z.dataset.d),k=W/zw;"
	"frames().forEach(function(g){var x=parseFloat(g.dataset.x),w=parseFloat(g.dataset.w),"
	"d=parseInt(g.dataset.d);"
	"if(x+w<=zx+1e-6||x>=zx+zw-1e-6){g.style.display='none';return;}"
	"g.style.display='';if(d<zd){place(g,P,W);g.style.opacity='0.6';return;}"
	"g.style.opacity='';place(g,P+(x-zx)*k,w*k);});"
	"document.getElementById('reset').style.display='';}\n"
	"function reset(){frames().forEach(function(g){g.style.display='';g.style.opacity='';"
	"place(g,parseFloat(g.dataset.x),parseFloat(g.dataset.w));});"
	"document.getElementById('reset').style.display='none';}\n"
	"function search(){var s=prompt('Search (regular expression)','');if(s===null)return;"
	"var re;try{re=new RegExp(s);}catch(e){alert(e);return;}var hit=0;"
	"frames().forEach(function(g){var r=g.querySelector('rect');"
	"if(!r.dataset.fill)r.dataset.fill=r.getAttribute('fill');"
	"if(s!==''&&re.test(label(g))){r.setAttribute('fill','rgb(230,0,230)');"
	"if(parseInt(g.dataset.d)===1)hit+=parseFloat(g.dataset.w);}"
	"else r.setAttribute('fill',r.dataset.fill);});"
	"document.getElementById('matched').textContent=s===''?'':"
	"'Matched: '+(100*hit/W).toFixed(1)+'% of the root frames';}\n"
	"document.addEventListener('click',function(e){var g=e.target.closest('g.f');"
	"if(g)zoom(g);});\n";

void
out_flame_write(FILE *f, const graph_t *g, const out_options_t *o)
{
	out_flame_tree_t t;
	out_flame_build(&t, g);
	double height = OUT_FLAME_TOP + (t.max_depth + 1) * OUT_FLAME_FRAME + OUT_FLAME_PAD;
	double width = OUT_FLAME_WIDTH + 2 * OUT_FLAME_PAD;
	out_flame_ctx_t c = {
		.f = f,
		.g = g,
		.o = o,
		.t = &t,
		.scale = t.frames[0].after > 0 ? OUT_FLAME_WIDTH / t.frames[0].after : 0,
		.total = t.frames[0].after,
	};
	for (size_t i = 1; i < t.n; i++)
		if (fabs(t.frames[i].delta) > c.max_delta)
			c.max_delta = fabs(t.frames[i].delta);
	char total[64];
	out_format_value(o, c.total, total, sizeof(total));
	fputs("<?xml version=\"1.0\" standalone=\"no\"?>\n", f);
	fprintf(f, "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		   "xmlns=\"http://www.w3.org/2000/svg\">\n",
		width, height, width, height);
	fputs("<style>text{font-family:monospace;font-size:12px;fill:#000}"
	      "g.f:hover rect{stroke:#000;stroke-width:0.5}g.f{cursor:pointer}"
	      ".b{cursor:pointer;fill:#06c}</style>\n",
	      f);
	fprintf(f, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", out_flame_script);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f8f8f0\"/>\n", width,
		height);
	fprintf(f, "<text x=\"%.1f\" y=\"24\" style=\"font-size:17px\">", width / 2 - 200);
	fputs(o->has_base ? "Heap growth flame graph: " : "Heap flame graph: ", f);
	out_write_xml_escaped(f, out_program_name(o));
	fprintf(f, " (%s %s)</text>\n", total, out_units(o));
	fputs("<text id=\"reset\" class=\"b\" x=\"10\" y=\"24\" style=\"display:none\" "
	      "onclick=\"reset()\">Reset zoom</text>\n",
	      f);
	fprintf(f, "<text class=\"b\" x=\"%.0f\" y=\"24\" onclick=\"search()\">Search</text>\n",
		width - 70);
	fprintf(f, "<text id=\"matched\" x=\"%.0f\" y=\"%.0f\"></text>\n", width - 300, height - 2);
	out_flame_write_frame(&c, 0, OUT_FLAME_PAD);
	fputs("</svg>\n", f);
	free(t.frames);
}
