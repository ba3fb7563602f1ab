/* dl.c — open an optional library and resolve all its symbols at once. */
#include "dl.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/*
 * A slot is a function pointer; dlsym() returns void *. POSIX makes the
 * two the same size and convertible; memcpy keeps the compiler's aliasing
 * rules out of it.
 */
static void set_slot(void *slot, void *value)
{
	memcpy(slot, &value, sizeof value);
}

static void clear_slots(const struct dl_sym syms[])
{
	for (const struct dl_sym *s = syms; s->name; s++)
		set_slot(s->slot, NULL);
}

/* Fill every slot from h; the first missing symbol's name on failure. */
static const char *resolve_all(void *h, const struct dl_sym syms[])
{
	for (const struct dl_sym *s = syms; s->name; s++) {
		void *p = dlsym(h, s->name);
		if (!p)
			return s->name;
		set_slot(s->slot, p);
	}
	return NULL;
}

void *dl_load(const char *feature, const char *const sonames[], const struct dl_sym syms[],
	      int (*accept)(char **why), const char **soname, char **why)
{
	struct buf reasons = BUF_INIT;

	*why = NULL;
	for (const char *const *name = sonames; *name; name++) {
		char *reason = NULL;
		/* RTLD_NOW: a library with unresolvable dependencies fails here,
		 * not at its first call. RTLD_LOCAL: its symbols stay its own. */
		void *h = dlopen(*name, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			reason = xstrdup(e ? e : "cannot be opened");
		} else {
			const char *missing = resolve_all(h, syms);
			if (missing)
				reason = xasprintf("has no symbol %s", missing);
			else if (accept && accept(&reason) < 0 && !reason)
				reason = xstrdup("not usable");
		}
		if (!reason) {
			*soname = *name;
			log_kv(LOG_DEBUG, NULL, "optional library loaded", "feature", feature,
			       "soname", *name, NULL);
			buf_release(&reasons);
			return h;
		}
		clear_slots(syms);
		if (h)
			dlclose(h);
		log_kv(LOG_DEBUG, NULL, "optional library not usable", "feature", feature,
		       "soname", *name, "error", reason, NULL);
		/* dlerror() names the file already: say it once. */
		buf_printf(&reasons, "%s%s%s%s", reasons.len ? "; " : "",
			   strstr(reason, *name) ? "" : *name, strstr(reason, *name) ? "" : ": ",
			   reason);
		free(reason);
	}
	*why = buf_detach(&reasons);
	return NULL;
}
