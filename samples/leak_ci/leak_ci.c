/*
 * leak_ci.c — a small program for the leak check in this folder's Makefile.
 *
 * It loads a configuration that it keeps for its whole life (never freed,
 * on purpose: leak_ci.supp suppresses it by name), then handles a few
 * requests, freeing what each one allocated.  Built with -DLEAK,
 * handle_request forgets to free one request's buffer: the leak the check
 * must catch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config {
	char name[64];
	int workers;
};

static struct config *config;

/* The process-wide configuration: allocated once and kept to the end. */
static void
config_load(void)
{
	config = malloc(sizeof(*config));
	if (config == NULL)
		exit(2);
	snprintf(config->name, sizeof(config->name), "leak_ci");
	config->workers = 4;
}

/* One request: a buffer for its reply, freed when the reply is sent. */
static size_t
handle_request(int id)
{
	char *reply = malloc(256);
	if (reply == NULL)
		exit(2);
	int len = snprintf(reply, 256, "%s: request %d served by %d workers", config->name, id,
	                   config->workers);
#ifdef LEAK
	if (id == 3)
		return (size_t)len; /* the bug: an early return that skips the free */
#endif
	free(reply);
	return (size_t)len;
}

int
main(void)
{
	config_load();
	size_t total = 0;
	for (int id = 0; id < 8; id++)
		total += handle_request(id);
	printf("leak_ci: 8 requests, %zu bytes of replies\n", total);
	return 0;
}
