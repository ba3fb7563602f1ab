/*
 * dl.h — optional libraries, loaded the first time a feature needs them,
 * the way systemd does it (dlopen_many_sym_or_warn(), ELF_NOTE_DLOPEN):
 *
 *  - one call opens the library and resolves every symbol the program
 *    uses, all or nothing, so a library that lacks one fails at once and
 *    says which, not in the middle of a round;
 *  - several sonames may be tried in order (Debian's libcurl-gnutls.so.4
 *    after libcurl.so.4);
 *  - a .note.dlopen ELF note declares the dependency, so packaging tools
 *    see it although there is no DT_NEEDED entry.
 *
 * The program calls the library through the resolved pointers; its own
 * headers stay the API (types, constants, prototypes).
 */
#ifndef FLIPPER_DL_H
#define FLIPPER_DL_H

#include <stdint.h>

struct dl_sym {
	const char *name;
	void *slot;             /* the function pointer to fill in */
};

/* { "fn", &sym_fn } for a pointer named sym_fn. */
#define DL_SYM(fn) { #fn, &sym_##fn }
#define DL_SYM_END { NULL, NULL }

/*
 * Open the first of sonames (NULL last) that has every symbol of syms and,
 * when accept is set, that accept() takes once the slots are filled (a
 * minimum version): it returns 0, or -1 with *why (owned).
 *
 * Returns the library's handle, with *soname the name that worked; all
 * slots are filled. On failure returns NULL with every slot NULL and *why
 * (owned) saying what each candidate lacked, e.g. "libcurl.so.4: cannot
 * open shared object file: No such file or directory; libcurl-gnutls.so.4:
 * ...". feature names the library in debug log lines.
 */
void *dl_load(const char *feature, const char *const sonames[], const struct dl_sym syms[],
	      int (*accept)(char **why), const char **soname, char **why);

/*
 * The ELF dlopen metadata note (https://systemd.io/ELF_DLOPEN_METADATA/):
 * a section .note.dlopen holding a note of owner "FDO" and type
 * 0x407c0c0a whose payload is a JSON array of objects with "feature",
 * "description", "priority" ("required", "recommended", "suggested") and
 * "soname" (a list). `readelf -n` shows it; dh_dlopenlibdeps and rpm's
 * dependency generator read it.
 *
 * A compiler's sanitizers leave variables in named sections alone, so the
 * note keeps its layout in every build.
 */
#define DL_NOTE_OWNER "FDO"
#define DL_NOTE_TYPE UINT32_C(0x407c0c0a)

#define DL_ELF_NOTE(var, json)                                               \
	__attribute__((used, section(".note.dlopen"), aligned(4)))           \
	static const struct {                                                \
		uint32_t n_namesz, n_descsz, n_type;                         \
		char owner[sizeof DL_NOTE_OWNER];                            \
		char desc[(sizeof(json) + 3) / 4 * 4];                       \
	} var = {                                                            \
		sizeof DL_NOTE_OWNER, sizeof(json), DL_NOTE_TYPE,            \
		DL_NOTE_OWNER, json,                                         \
	}

#endif
