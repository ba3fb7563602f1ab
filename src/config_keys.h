/*
 * config_keys.h — the configuration's keys as rows of a table, as tmux's
 * options_table and keepalived's keyword table keep theirs.
 *
 * A row holds everything about one key: its name (and other spellings),
 * its type, where its value is kept, its default, bounds and help. The
 * loader in config.c reads a document tree against the rows (keys in any
 * case, under a name or an alias), fills in the defaults, refuses keys no
 * row names with a hint from the rows near them, applies the FLIPPER_*
 * overrides of the environment through the same rows, and prints the effective
 * configuration (`validate --print`) and the list of keys
 * (`validate --keys`, which the man-page check reads) from the same rows.
 * Only rules that tie keys together are written by hand: a section's
 * `finish` runs after its rows are read (an https check needs a host, the
 * API token has one source).
 *
 * Adding a key is adding a row here, its field in config.h and its
 * paragraph in the man page (tests/contrib-verify.sh checks the last).
 */
#ifndef FLIPPER_CONFIG_KEYS_H
#define FLIPPER_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "node.h"

enum key_type {
	KEY_SECTION,   /* a mapping of further rows, kept in the same struct */
	KEY_LIST,      /* a list of mappings, each kept in its own struct */
	KEY_MAP,       /* free names to strings, kept as struct header[] */
	KEY_ANY,       /* accepted whatever it holds, not read */
	KEY_STRING,    /* char *; ${NAME} expanded */
	KEY_BOOL,      /* bool */
	KEY_INT,       /* int, within [min, max] */
	KEY_DURATION,  /* int64_t milliseconds, at least min */
	KEY_ENUM,      /* one of `names`, kept as its index in an int (or enum) */
	KEY_STATUSES,  /* expect_status: a string, a number or a list of both */
	KEY_DERIVED,   /* not a key: a char * the section's rule sets, printed */
};

enum key_flag {
	KF_ORIGINAL = 1 << 0,      /* the Go flipper had this key */
	/*
	 * 0 means "the default", as the original's decoder took it: the
	 * value is left at the row's default (or for the rule in `finish`
	 * to set), before the bounds are checked.
	 */
	KF_ZERO_DEFAULT = 1 << 1,
	/*
	 * Accepted and type-checked, not used: `validate` (only) warns once
	 * per section that has such a key set.
	 */
	KF_UNUSED = 1 << 2,
	KF_NOPRINT = 1 << 3,       /* left out of the effective configuration */
	KF_SECRET = 1 << 4,        /* printed as "(set)", wiped when freed */
	KF_REDACT_URL = 1 << 5,    /* printed redacted: the URL holds a secret */
	KF_NONEMPTY = 1 << 6,      /* "" is an error */
	KF_EMPTY_UNSET = 1 << 7,   /* "" counts as absent */
	KF_ENUM_TEXT = 1 << 9,     /* KEY_ENUM kept as the word, in a char * */
	KF_NULL_IF_ZERO = 1 << 10, /* KEY_INT: 0 means unset, printed as null */
	KF_ALWAYS = 1 << 11,       /* KEY_DURATION: the word "always" too, kept as DURATION_ALWAYS */
};

/* Where a row's value is not kept (KF_UNUSED keys). */
#define KEY_NO_FIELD ((size_t)-1)

struct cfg_walk;
struct key_section;

struct key_row {
	const char *name;
	const char *const *aliases;    /* other spellings, NULL-terminated; or NULL */
	enum key_type type;
	unsigned flags;                /* enum key_flag */
	size_t field;                  /* offsetof() in the section's struct */
	size_t count_field;            /* KEY_LIST, KEY_MAP: offsetof() the size_t count */
	const char *def_str;           /* KEY_STRING default */
	int64_t def_num;               /* KEY_BOOL, KEY_INT, KEY_DURATION (ms), KEY_ENUM (index) */
	int64_t min, max;              /* KEY_INT; KEY_DURATION: min only (ms) */
	const char *const *names;      /* KEY_ENUM: the one name table of that enum */
	const struct key_section *section;   /* KEY_SECTION, KEY_LIST */
	const char *required;          /* set: the key must be there; what to say if not */
	/*
	 * A rule on the value alone, run once it is read (the key is on the
	 * walk's path, `at` is the value): report with cfg_error(w, NULL, ...).
	 * For KEY_MAP it runs per entry, with a struct header.
	 */
	void (*check)(struct cfg_walk *w, const struct node *at, const void *value);
	const char *doc_default;       /* the default in words, where a rule sets it */
	const char *help;
};

struct key_section {
	const char *path;              /* as documented: "groups[].checks[]" */
	const struct key_row *rows;
	size_t n_rows;
	size_t size;                   /* KEY_LIST: one element's struct */
	const char *unique;            /* KEY_LIST: a KEY_STRING row unique in the list, */
	const char *unique_what;       /* what it is ("check id") */
	const char *unique_scope;      /* and where (" in this group"), or NULL */
	/*
	 * Rules across keys, run after the rows: map is the section's
	 * mapping, NULL when absent; where is the nearest mapping there is.
	 */
	void (*finish)(struct cfg_walk *w, const struct node *map, const struct node *where,
		       void *obj);
};

/* config_keys.c */
extern const struct key_section config_root;

/* config.c: the walk, for the rules in config_keys.c */
#define CFG_MAX_DEPTH 8            /* sections within sections: the table has 4 */

struct cfg_walk {
	struct diags *d;
	struct buf path;               /* key path of the section being read */
	const char *file;              /* the configuration file, or "" */
	enum config_use use;
	bool literal_token;            /* some api_token is written in the file */
	/* The sections being read, outermost first, for "one level up" hints. */
	struct {
		const struct key_section *s;
		size_t path_len;       /* of its path, "groups[0]" */
	} stack[CFG_MAX_DEPTH];
	size_t depth;
};

/* Report at `at` (may be NULL), under key (NULL: the current path). */
void cfg_error(struct cfg_walk *w, const char *key, const struct node *at,
	       const char *fmt, ...) PRINTF_LIKE(4, 5);
void cfg_warning(struct cfg_walk *w, const char *key, const struct node *at,
		 const char *fmt, ...) PRINTF_LIKE(4, 5);
/* A warning for `validate` only: a run is not told on every start. */
void cfg_advice(struct cfg_walk *w, const char *key, const struct node *at,
		const char *fmt, ...) PRINTF_LIKE(4, 5);
/*
 * The entry of map for the row of s named key, under its name or an
 * alias (the first, when the file repeats it), or NULL. The one place
 * that decides which spelling of a key matches.
 */
const struct node *cfg_get(const struct key_section *s, const struct node *map,
			   const char *key);
/* Is it there with a value (not null)? */
bool cfg_has(const struct key_section *s, const struct node *map, const char *key);

#endif
