/* store.c — the SQLite state file: lock, open, migrate, load and save. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Generated from the files in sql/ by scripts/embed-sql.sh. */
extern const char *const store_migrations[];
extern const size_t store_migration_count;

struct store {
	sqlite3 *db;
	/* Statements run once per check result, prepared once. */
	sqlite3_stmt *put_target;
	sqlite3_stmt *put_health;
	bool readonly;
	/* A BEGIN or COMMIT failed since the last store_write_error_clear(). */
	bool write_failed;
	char write_error[256];
};

/* ---- whose file it is ------------------------------------------------------ */

/*
 * The marker flipper writes into its lock file once it has opened its
 * database: the line says whose lock it is and which file it guards, so
 * a lock copied elsewhere or left by a typo proves nothing.
 */
#define LOCK_MARK "flipper state lock for "

static char *lock_marker(const char *path)
{
	return xasprintf(LOCK_MARK "%s\n", path);
}

/* A lock file flipper may have written: a regular file of this user. */
static bool lock_is_own(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid();
}

static bool lock_marked_fd(int fd, const char *path)
{
	if (fd < 0 || !lock_is_own(fd))
		return false;
	char *want = lock_marker(path);
	size_t n = strlen(want);
	char *have = xmalloc(n + 1);
	ssize_t got = pread(fd, have, n + 1, 0);
	bool yes = got == (ssize_t)n && memcmp(have, want, n) == 0;
	free(have);
	free(want);
	return yes;
}

/*
 * The lock file beside path, opened to read its marker (or write it),
 * never created and never through a link: -1 when there is none.
 */
static int lock_file(const char *path, int flags)
{
	char *lock_path = xasprintf("%s.lock", path);
	int fd = open(lock_path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(lock_path);
	return fd;
}

static bool lock_marked(const char *path)
{
	int fd = lock_file(path, O_RDONLY);
	bool yes = lock_marked_fd(fd, path);
	if (fd >= 0)
		close(fd);
	return yes;
}

/*
 * Mark the lock (the caller holds it) as guarding path's database. A lock
 * file holding anything but a flipper marker is someone else's file:
 * left alone. A failed write only costs the right to move a damaged file
 * aside later.
 */
static void lock_mark(const char *path)
{
	int fd = lock_file(path, O_RDWR);
	if (fd < 0)
		return;
	char head[sizeof LOCK_MARK - 1];
	ssize_t got = pread(fd, head, sizeof head, 0);
	bool flippers = got == 0 ||
			(got == (ssize_t)sizeof head && memcmp(head, LOCK_MARK, sizeof head) == 0);
	if (flippers && lock_is_own(fd) && !lock_marked_fd(fd, path)) {
		char *want = lock_marker(path);
		size_t n = strlen(want);
		if (pwrite(fd, want, n, 0) == (ssize_t)n && ftruncate(fd, (off_t)n) == 0)
			fdatasync(fd);
		free(want);
	}
	close(fd);
}

static const char *file_type(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO (named pipe)" :
	       S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device" :
	       S_ISBLK(m) ? "a block device" : S_ISLNK(m) ? "a symbolic link" : "not a regular file";
}

static char *refusal(const char *path, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* "refusing PATH as the state file: WHY; it was left untouched" */
static char *refusal(const char *path, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	buf_printf(&b, "refusing \"%s\" as the state file: ", path);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_addstr(&b, "; it was left untouched (check --state, $FLIPPER_STATE and state.path)");
	return buf_detach(&b);
}

/*
 * The given path made absolute, symbolic links resolved. For a path
 * where nothing is yet, its directory is resolved and must exist.
 * 1 resolved, 0 nothing there and no directory either (*err set only
 * for writers), -1 refused (*err).
 */
static int resolve_path(const char *given, bool for_writing, char **resolved, bool *followed,
			char **err)
{
	struct stat st;
	*resolved = NULL;
	*followed = false;
	if (lstat(given, &st) == 0) {
		*followed = S_ISLNK(st.st_mode);
		*resolved = realpath(given, NULL);
		if (*resolved)
			return 1;
		int e = errno;
		if (*followed) {
			char target[PATH_MAX];
			ssize_t n = readlink(given, target, sizeof target - 1);
			target[n > 0 ? n : 0] = '\0';
			*err = refusal(given, "it is a symbolic link to \"%s\", which %s", target,
				       e == ENOENT ? "does not exist" : strerror(e));
		} else {
			*err = xasprintf("cannot resolve the state path \"%s\": %s", given, strerror(e));
		}
		return -1;
	}
	if (errno != ENOENT) {
		*err = xasprintf("cannot look at the state file \"%s\": %s", given, strerror(errno));
		return -1;
	}
	const char *slash = strrchr(given, '/');
	char *dir = slash ? xstrndup(given, slash == given ? 1 : (size_t)(slash - given)) :
			    xstrdup(".");
	const char *base = slash ? slash + 1 : given;
	char *rdir = *base ? realpath(dir, NULL) : NULL;
	if (!rdir) {
		if (for_writing)
			*err = xasprintf("cannot create the state file \"%s\": %s", given,
					 *base ? strerror(errno) : "the path names a directory");
		free(dir);
		return for_writing ? -1 : 0;
	}
	*resolved = xasprintf("%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
	free(rdir);
	free(dir);
	return 1;
}

/* ---- lock ------------------------------------------------------------- */

int store_lock(const char *path, int *fd_out)
{
	char *lock_path = xasprintf("%s.lock", path);
	/* Never through a link: flipper writes its marker into this file. */
	int fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int e = errno;
	free(lock_path);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return 1;
		errno = e;
		return -1;
	}
	*fd_out = fd;
	return 0;
}

void store_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

/* ---- open ------------------------------------------------------------- */

const char *store_errmsg(struct store *s)
{
	return s && s->db ? sqlite3_errmsg(s->db) : "no database";
}

static int exec(struct store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->put_target);
	sqlite3_finalize(s->put_health);
	sqlite3_close(s->db);
	free(s);
}

void store_info_release(struct store_info *info)
{
	free(info->moved_aside);
	free(info->moved_reason);
	memset(info, 0, sizeof *info);
}

enum verdict { DB_OK, DB_NEW, DB_DAMAGED, DB_FOREIGN, DB_TOO_NEW, DB_IOERR };

static bool io_error(int code)
{
	return code == SQLITE_IOERR || code == SQLITE_CANTOPEN || code == SQLITE_BUSY ||
	       code == SQLITE_LOCKED || code == SQLITE_PERM || code == SQLITE_READONLY ||
	       code == SQLITE_NOMEM || code == SQLITE_AUTH;
}

/* "a SQLite database of another application (application_id 0x..., tables: a, b)" */
static char *foreign_db(sqlite3 *db, int64_t app)
{
	struct buf b = BUF_INIT;
	sqlite3_stmt *st = NULL;
	buf_addstr(&b, "it is a SQLite database of another application (");
	if (app)
		buf_printf(&b, "application_id 0x%08llx", (unsigned long long)(uint32_t)app);
	else
		buf_addstr(&b, "no application_id");
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
			       "ORDER BY name LIMIT 6", -1, &st, NULL) == SQLITE_OK) {
		for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			buf_printf(&b, "%s%s", i ? ", " : "; tables: ", i < 5 ? t ? t : "" : "...");
		}
	}
	sqlite3_finalize(st);
	buf_addch(&b, ')');
	return buf_detach(&b);
}

/*
 * A sound header does not make a sound file: a damaged table or index
 * page shows only when something reads it, and then every later round
 * would fail on it. quick_check reads every page once (a state file is a
 * few pages per server, so this is microseconds to a few milliseconds);
 * a flipper database it finds damaged is moved aside. An I/O error is not
 * damage: it is reported, and the file left alone.
 */
static bool damaged(sqlite3 *db, char **why)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	bool bad = true;
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);
		bad = !res || strcmp(res, "ok") != 0;
		if (bad)
			*why = xasprintf("damaged (integrity check: %s)", res ? res : "no answer");
	} else if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
		*why = xasprintf("damaged (%s)", sqlite3_errmsg(db));
	} else {
		bad = false;
	}
	sqlite3_finalize(st);
	return bad;
}

/*
 * What an open database is, as SQLite reads it (with its WAL): new and
 * empty, flipper's (DB_OK, DB_TOO_NEW; DB_DAMAGED when check_pages finds
 * a bad page), someone else's (DB_FOREIGN), unreadable as SQLite
 * (DB_DAMAGED: whose it is, the caller knows), or an I/O error.
 */
static enum verdict inspect(sqlite3 *db, bool check_pages, char **why, int64_t *version)
{
	int64_t app = 0, tables = 0;
	if (pragma_int(db, "PRAGMA application_id", &app) < 0 ||
	    pragma_int(db, "PRAGMA user_version", version) < 0 ||
	    pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables) < 0) {
		if (io_error(sqlite3_errcode(db))) {
			*why = xstrdup(sqlite3_errmsg(db));
			return DB_IOERR;
		}
		*why = xasprintf("damaged (not readable as a SQLite database: %s)", sqlite3_errmsg(db));
		return DB_DAMAGED;
	}
	if (app == 0 && tables == 0)
		return DB_NEW;
	if (app != STORE_APPLICATION_ID) {
		*why = foreign_db(db, app);
		return DB_FOREIGN;
	}
	if (*version > (int64_t)store_migration_count) {
		*why = xasprintf("written by a newer flipper (schema %lld, this one knows %zu)",
				 (long long)*version, store_migration_count);
		return DB_TOO_NEW;
	}
	return check_pages && damaged(db, why) ? DB_DAMAGED : DB_OK;
}

static int migrate(struct store *s, int64_t from, char **err)
{
	if (from == (int64_t)store_migration_count)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE") < 0)
		goto bad;
	for (size_t v = (size_t)from; v < store_migration_count; v++)
		if (exec(s, store_migrations[v]) < 0)
			goto bad_rollback;
	char *sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %zu",
			      STORE_APPLICATION_ID, store_migration_count);
	int rc = exec(s, sql);
	free(sql);
	if (rc < 0 || exec(s, "COMMIT") < 0)
		goto bad_rollback;
	/* A new database: put its header, application_id included, into the
	 * database file now, not at the WAL's first checkpoint, so the file
	 * says whose it is on its own. */
	if (from == 0)
		store_checkpoint_truncate(s);
	return 0;
bad_rollback:
	*err = xasprintf("migrating the state schema: %s", sqlite3_errmsg(s->db));
	exec(s, "ROLLBACK");
	return -1;
bad:
	*err = xasprintf("migrating the state schema: %s", sqlite3_errmsg(s->db));
	return -1;
}

static sqlite3 *open_db(const char *path, int flags)
{
	sqlite3 *db = NULL;
#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	/*
	 * Closing the last connection would checkpoint the WAL into the
	 * database file: never into a file not yet known to be flipper's,
	 * and for flipper's own, not on the common run's way out (fsyncs
	 * were three quarters of a nothing-due run's time).
	 */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 0);
	return db;
}

/* "file:/a%20b/x.db?immutable=1": read the file alone, lock nothing, create nothing. */
static char *immutable_uri(const char *path)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/-._~", *p))
			buf_addch(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	buf_addstr(&b, "?immutable=1");
	return buf_detach(&b);
}

/*
 * What is at path (resolved), judged without changing anything and
 * before SQLite opens it for writing; *st is the file looked at (st_ino
 * 0: nothing there).
 *   DB_NEW      nothing, an empty file, or an empty SQLite database
 *   DB_OK       flipper's by its application_id (inspect() checks pages)
 *   DB_DAMAGED  unreadable as SQLite, beside flipper's marked lock
 *   DB_FOREIGN  anything else: refuse (*why says what it looks like)
 *   DB_IOERR    cannot be read: refuse
 */
static enum verdict examine_content(const char *path, bool marked, const struct stat *st,
				    char **why);

static enum verdict examine(const char *path, bool for_writing, bool marked, struct stat *st,
			    char **why)
{
	memset(st, 0, sizeof *st);
	if (lstat(path, st) < 0) {
		if (errno == ENOENT) {
			memset(st, 0, sizeof *st);
			return DB_NEW;
		}
		*why = xasprintf("cannot look at the state file \"%s\": %s", path, strerror(errno));
		return DB_IOERR;
	}
	if (!S_ISREG(st->st_mode)) {
		*why = refusal(path, "it is %s, not a regular file", file_type(st->st_mode));
		return DB_FOREIGN;
	}
	enum verdict v = examine_content(path, marked, st, why);
	/* What the file is comes first (a configuration named by a typo is
	 * not to be chown'ed); a file flipper could use must be its user's. */
	if (for_writing && v != DB_FOREIGN && st->st_uid != geteuid()) {
		free(*why);
		*why = refusal(path, "it is owned by uid %lu, not by uid %lu that flipper runs as "
			       "(chown it, or run flipper as its owner)",
			       (unsigned long)st->st_uid, (unsigned long)geteuid());
		v = DB_FOREIGN;
	}
	return v;
}

/* examine() for a regular file: what its content says. */
static enum verdict examine_content(const char *path, bool marked, const struct stat *st,
				    char **why)
{
	if (st->st_size == 0)
		return DB_NEW;

	unsigned char head[STORE_SNIFF_BYTES];
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		do
			n = pread(fd, head, sizeof head, 0);
		while (n < 0 && errno == EINTR);
		int e = errno;
		close(fd);
		errno = e;
	}
	if (n < 0) {
		*why = xasprintf("cannot read the state file \"%s\": %s; it was left untouched",
				 path, strerror(errno));
		return DB_IOERR;
	}
	uint32_t app = 0;
	const char *what = NULL;
	switch (store_sniff(head, (size_t)n, &app, &what)) {
	case STORE_KIND_EMPTY:
		return DB_NEW;
	case STORE_KIND_OTHER:
		if (marked) {
			*why = xasprintf("damaged (not a SQLite database; it looks like %s)", what);
			return DB_DAMAGED;
		}
		*why = refusal(path, "it looks like %s, not a flipper database, and no lock file of "
			       "flipper's beside it marks it as flipper's", what);
		return DB_FOREIGN;
	case STORE_KIND_SQLITE:
		break;
	}
	if (app == STORE_APPLICATION_ID)
		return DB_OK;
	/*
	 * Another application's, or (application_id 0) a flipper database
	 * whose header still waits in its WAL. Ask SQLite, read-only: that
	 * never rolls back, recovers into or checkpoints someone else's file.
	 * Without a WAL to read, the file alone is the whole truth: read it
	 * as immutable, which creates no -wal or -shm beside it either.
	 */
	char *wal = xasprintf("%s-wal", path);
	struct stat wst;
	bool wal_pending = (head[18] == 2 || head[19] == 2) && stat(wal, &wst) == 0 && wst.st_size > 0;
	free(wal);
	char *uri = wal_pending ? NULL : immutable_uri(path);
	sqlite3 *db = open_db(uri ? uri : path, SQLITE_OPEN_READONLY | (uri ? SQLITE_OPEN_URI : 0));
	free(uri);
	if (!db) {
		*why = xasprintf("cannot open the state file \"%s\" read-only; it was left untouched",
				 path);
		return DB_IOERR;
	}
	int64_t version = 0;
	char *inner = NULL;
	enum verdict v = inspect(db, false, &inner, &version);
	if (v == DB_FOREIGN || (v == DB_DAMAGED && !marked)) {
		*why = v == DB_FOREIGN ? refusal(path, "%s", inner) :
			refusal(path, "it is %s, and no lock file of flipper's beside it marks it as "
				"flipper's", inner);
		free(inner);
		v = DB_FOREIGN;
	} else if (v == DB_IOERR) {
		*why = xasprintf("cannot read the state file \"%s\": %s; it was left untouched", path,
				 inner);
		free(inner);
	} else {
		*why = inner;
		if (v == DB_TOO_NEW)
			v = DB_OK;      /* flipper's: store_open() says the rest */
	}
	sqlite3_close(db);
	return v;
}

int store_resolve(const char *given, bool for_writing, char **resolved, bool *followed,
		  char **err)
{
	*err = NULL;
	int r = resolve_path(given, for_writing, resolved, followed, err);
	if (r <= 0)
		return r;
	struct stat st;
	char *why = NULL;
	enum verdict v = examine(*resolved, for_writing, lock_marked(*resolved), &st, &why);
	if (v == DB_FOREIGN || v == DB_IOERR) {
		*err = why;
		free(*resolved);
		*resolved = NULL;
		return -1;
	}
	free(why);
	return 0;
}

static void move_aside(const char *path, struct store_info *info, char *why)
{
	char ts[32];
	struct buf name = BUF_INIT;
	int64_t now = now_ms();
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	buf_printf(&name, "%s.corrupt-%s", path, ts);
	/* Never overwrite an earlier corrupt copy. */
	for (int i = 1; access(name.data, F_OK) == 0; i++) {
		buf_reset(&name);
		buf_printf(&name, "%s.corrupt-%s-%d", path, ts, i);
	}
	if (rename(path, name.data) == 0) {
		info->moved_aside = buf_detach(&name);
		for (const char *suffix = "-wal"; suffix; suffix = strcmp(suffix, "-wal") ? NULL : "-shm") {
			char *side = xasprintf("%s%s", path, suffix);
			unlink(side);
			free(side);
		}
	} else {
		buf_release(&name);
	}
	free(info->moved_reason);
	info->moved_reason = why;
}

/* Drop group and other bits: the -wal and -shm files take the database's mode. */
static void tighten_mode(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		fchmod(fd, st.st_mode & 0700);
	if (fd >= 0)
		close(fd);
}

/*
 * Open (or create, 0600) the file examine() judged, for SQLite to use:
 * the same file, not one swapped in since. With tighten, its mode too,
 * before SQLite creates a -wal or -shm: only for a file known to be
 * flipper's, or empty. 0; 1 the file changed under us (look again);
 * -1 with *err.
 */
static int claim(const char *path, const struct stat *seen, bool tighten, char **err)
{
	int fd = seen->st_ino ?
		open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) :
		open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST || errno == ENOENT)
			return 1;
		*err = xasprintf("cannot open the state file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = 1;
	else if (seen->st_ino && (st.st_dev != seen->st_dev || st.st_ino != seen->st_ino))
		rc = 1;
	else if (tighten && (st.st_mode & 077))
		fchmod(fd, st.st_mode & 0700);
	close(fd);
	return rc;
}

struct store *store_open(const char *path, struct store_info *info, char **err)
{
	memset(info, 0, sizeof *info);
	*err = NULL;
	const bool marked = lock_marked(path);

	/* Moving aside once, and a file swapped under us once, are enough. */
	for (int attempt = 0; attempt < 4; attempt++) {
		struct stat seen;
		char *why = NULL;
		enum verdict v = examine(path, true, marked, &seen, &why);
		if (v == DB_DAMAGED && !info->moved_aside) {
			move_aside(path, info, why);
			if (!info->moved_aside)
				goto not_moved;
			continue;
		}
		if (v != DB_OK && v != DB_NEW) {
			*err = v == DB_DAMAGED ? xasprintf("state file \"%s\": %s", path, why) : why;
			if (v == DB_DAMAGED)
				free(why);
			return NULL;
		}
		free(why);
		why = NULL;
		/* An empty SQLite database is judged again by inspect() below
		 * first: its mode is changed only once SQLite agrees. */
		const bool tightened = v == DB_OK || seen.st_size == 0;
		int c = claim(path, &seen, tightened, err);
		if (c < 0)
			return NULL;
		if (c > 0)
			continue;

		sqlite3 *db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
		if (!db) {
			*err = xasprintf("cannot open state file \"%s\"", path);
			return NULL;
		}
		int64_t version = 0;
		enum verdict iv = inspect(db, true, &why, &version);
		if (iv == DB_DAMAGED && (v == DB_OK || marked) && !info->moved_aside) {
			sqlite3_close(db);
			move_aside(path, info, why);
			if (!info->moved_aside)
				goto not_moved;
			continue;
		}
		if (iv != DB_OK && iv != DB_NEW) {
			*err = iv == DB_FOREIGN ? refusal(path, "%s", why) :
			       iv == DB_DAMAGED ? refusal(path, "it is %s, and no lock file of flipper's "
							  "beside it marks it as flipper's", why) :
			       xasprintf("state file \"%s\": %s", path, why ? why : "unusable");
			free(why);
			sqlite3_close(db);
			return NULL;
		}
		free(why);
		struct store *s = xcalloc(1, sizeof *s);
		s->db = db;
		info->created = iv == DB_NEW;
		if (!tightened)
			tighten_mode(path);
		/*
		 * WAL with synchronous=NORMAL: a commit appends to the WAL and
		 * does not fsync; a crash of flipper loses nothing committed,
		 * a power cut may roll back the last rounds but never corrupts.
		 * No checkpoint on close (open_db), so the common run (nothing
		 * due) never waits for the disk. SQLite checkpoints instead
		 * when the WAL passes 64 pages (its default is 1,000: 4 MiB of
		 * headroom a small volume may not have); when the WAL starts
		 * over, a file grown past 512 KiB by a big transaction (the
		 * first round) is cut back. monitor and reconcile --for fold
		 * the WAL in on their way out (store_checkpoint_truncate). A
		 * small WAL is also a fast one: each read looks it up first.
		 */
		if (exec(s, "PRAGMA journal_mode = WAL") < 0 ||
		    exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
			 "PRAGMA wal_autocheckpoint = 64; PRAGMA journal_size_limit = 524288") < 0) {
			*err = xasprintf("state file \"%s\": %s", path, sqlite3_errmsg(db));
			store_close(s);
			return NULL;
		}
		if (migrate(s, version, err) < 0) {
			store_close(s);
			return NULL;
		}
		lock_mark(path);
		return s;
	}
	*err = xasprintf("state file \"%s\" is still unusable after starting afresh", path);
	return NULL;
not_moved:
	*err = xasprintf("state file \"%s\" is not a usable flipper database (%s) and "
			 "cannot be moved aside: %s", path, info->moved_reason, strerror(errno));
	return NULL;
}

/* Read-only; any_version: also a schema older or newer than this flipper's. */
static struct store *open_readonly(const char *given, bool any_version, char **err)
{
	*err = NULL;
	char *path = NULL, *why = NULL;
	bool followed;
	if (resolve_path(given, false, &path, &followed, err) <= 0)
		return NULL;
	struct stat seen;
	sqlite3 *db = NULL;
	int64_t version = 0;
	enum verdict v = examine(path, false, lock_marked(path), &seen, &why);
	if ((v == DB_OK || v == DB_NEW) && seen.st_size > 0) {
		db = open_db(path, SQLITE_OPEN_READONLY);
		if (!db) {
			*err = xasprintf("cannot open state file \"%s\" read-only", path);
			goto out;
		}
		v = inspect(db, true, &why, &version);
	}
	switch (v) {
	case DB_NEW:            /* nothing there, or empty: no round has run yet */
		break;
	case DB_OK:
		if (!any_version && version != (int64_t)store_migration_count)
			*err = xasprintf("state file \"%s\": schema is older than this flipper; "
					 "run reconcile once to migrate it", path);
		break;
	case DB_TOO_NEW:
		if (!any_version)
			*err = xasprintf("state file \"%s\": %s", path, why);
		break;
	case DB_FOREIGN:
		/* examine() words its own refusals; inspect() only says what it is. */
		*err = db ? refusal(path, "%s", why) : xstrdup(why);
		break;
	case DB_IOERR:
		*err = db ? xasprintf("state file \"%s\": %s", path, why) : xstrdup(why);
		break;
	case DB_DAMAGED:
		*err = xasprintf("state file \"%s\": %s", path, why);
		break;
	}
out:
	free(why);
	free(path);
	if (*err || v == DB_NEW) {
		sqlite3_close(db);
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof *s);
	s->db = db;
	s->readonly = true;
	return s;
}

char *store_peek_meta(const char *path, const char *key)
{
	if (access(path, F_OK) < 0)
		return NULL;
	sqlite3 *db = open_db(path, SQLITE_OPEN_READONLY);
	if (!db)
		return NULL;
	int64_t app = 0, version = 0;
	char *value = NULL;
	sqlite3_stmt *st = NULL;
	if (pragma_int(db, "PRAGMA application_id", &app) == 0 && app == STORE_APPLICATION_ID &&
	    pragma_int(db, "PRAGMA user_version", &version) == 0 &&
	    version == (int64_t)store_migration_count &&
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			value = xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return value;
}

struct store *store_open_readonly(const char *path, char **err)
{
	return open_readonly(path, false, err);
}

int store_checkpoint_truncate(struct store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -1;
}

/* ---- backup --------------------------------------------------------------- */

/* dest names the state, or one of the files SQLite and flipper keep beside it. */
static bool is_state_file(const char *state, const char *dest)
{
	static const char *const companions[] = { "", "-wal", "-shm", "-journal", ".lock" };
	char *resolved = NULL, *err = NULL;
	bool followed, same = false;
	if (resolve_path(dest, false, &resolved, &followed, &err) <= 0) {
		free(err);
		return false;
	}
	struct stat d, c;
	bool exists = stat(resolved, &d) == 0;
	for (size_t i = 0; i < ARRAY_SIZE(companions) && !same; i++) {
		char *name = xasprintf("%s%s", state, companions[i]);
		same = strcmp(name, resolved) == 0 ||
		       (exists && stat(name, &c) == 0 && c.st_dev == d.st_dev && c.st_ino == d.st_ino);
		free(name);
	}
	free(resolved);
	return same;
}

/* Make a finished file's name last: the directory entry, not only the data. */
static void sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Into place, never over a file that appeared meanwhile unless force. */
static int publish(const char *tmp, const char *dest, bool force)
{
	if (force)
		return rename(tmp, dest);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link() refuses to replace too. */
	if (link(tmp, dest) < 0)
		return -1;
	unlink(tmp);
	return 0;
}

static int copy_into(struct store *src, const char *tmp, char **err)
{
	sqlite3 *d = open_db(tmp, SQLITE_OPEN_READWRITE);
	if (!d) {
		*err = xasprintf("cannot open \"%s\"", tmp);
		return -1;
	}
	int rc = SQLITE_ERROR;
	sqlite3_backup *b = sqlite3_backup_init(d, "main", src->db, "main");
	if (b) {
		/* All pages in one step: one read transaction, one snapshot.
		 * Busy only while a writer recovers or restarts the WAL. */
		for (int tries = 0; tries < 250; tries++) {
			rc = sqlite3_backup_step(b, -1);
			if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
				break;
			sqlite3_sleep(20);
		}
		sqlite3_backup_finish(b);
	}
	char *why = NULL;
	int64_t version = 0;
	if (rc != SQLITE_DONE) {
		*err = xasprintf("copying the state: %s", sqlite3_errmsg(rc == SQLITE_ERROR ||
									  !b ? d : src->db));
	} else if (sqlite3_exec(d, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		/* The copy carries the source's WAL flag: make it a file that
		 * is complete alone. */
		*err = xasprintf("finishing the copy: %s", sqlite3_errmsg(d));
	} else if (inspect(d, true, &why, &version) != DB_OK) {
		*err = xasprintf("the copy does not check out: %s", why ? why : "not a flipper database");
	}
	free(why);
	sqlite3_close(d);
	if (*err)
		return -1;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		*err = xasprintf("writing \"%s\": %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int store_backup(const char *path, const char *dest, bool force, char **err)
{
	*err = NULL;
	struct store *src = open_readonly(path, true, err);
	if (!src) {
		if (!*err)
			*err = xasprintf("no state at \"%s\" to back up (no round has run there)", path);
		return -1;
	}
	char *state = NULL, *tmp = NULL;
	bool followed;
	struct stat st;
	if (resolve_path(path, false, &state, &followed, err) <= 0)
		goto fail;
	if (is_state_file(state, dest)) {
		*err = xasprintf("\"%s\" is the state itself or a file beside it; back up to another "
				 "name", dest);
		goto fail;
	}
	if (lstat(dest, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			*err = xasprintf("\"%s\" is a directory; name the backup file", dest);
			goto fail;
		}
		if (!force) {
			*err = xasprintf("\"%s\" exists; give --force to replace it", dest);
			goto fail;
		}
	}
	tmp = xasprintf("%s.tmp-XXXXXX", dest);
	int fd = mkostemp(tmp, O_CLOEXEC);      /* mode 0600 whatever the umask */
	if (fd < 0) {
		*err = xasprintf("cannot create \"%s\": %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto fail;
	}
	close(fd);
	if (copy_into(src, tmp, err) < 0)
		goto fail;
	if (publish(tmp, dest, force) < 0) {
		*err = errno == EEXIST ?
		       xasprintf("\"%s\" appeared while the backup was written; give --force to "
				 "replace it", dest) :
		       xasprintf("cannot rename the backup to \"%s\": %s", dest, strerror(errno));
		goto fail;
	}
	sync_dir_of(dest);
	free(tmp);
	free(state);
	store_close(src);
	return 0;
fail:
	if (tmp) {
		char *journal = xasprintf("%s-journal", tmp);
		unlink(tmp);
		unlink(journal);
		free(journal);
		free(tmp);
	}
	free(state);
	store_close(src);
	return -1;
}

static void write_failure(struct store *s, const char *what)
{
	if (!s->write_failed)
		snprintf(s->write_error, sizeof s->write_error, "%s: %s", what,
			 sqlite3_errmsg(s->db));
	s->write_failed = true;
}

int store_begin(struct store *s)
{
	if (exec(s, "BEGIN IMMEDIATE") == 0)
		return 0;
	write_failure(s, "BEGIN");
	return -1;
}

/*
 * In WAL mode a small transaction's pages reach the disk at COMMIT, so a
 * full disk or a read-only remount shows here and nowhere earlier. SQLite
 * may or may not have rolled back already; make sure it has, so the
 * connection is usable and nothing half-done lingers.
 */
int store_commit(struct store *s)
{
	if (exec(s, "COMMIT") == 0)
		return 0;
	write_failure(s, "COMMIT");
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
	return -1;
}

const char *store_write_error(const struct store *s)
{
	return s->write_failed ? s->write_error : NULL;
}

void store_write_error_clear(struct store *s)
{
	s->write_failed = false;
	s->write_error[0] = '\0';
}

void store_rollback(struct store *s)
{
	exec(s, "ROLLBACK");
}

/* ---- statement helpers -------------------------------------------------- */

static sqlite3_stmt *prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, bool has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* Step a statement that returns no rows, then finalize. */
static int run(sqlite3_stmt *st)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int delete_group_rows(struct store *s, const char *table, const char *group)
{
	char *sql = xasprintf("DELETE FROM %s WHERE group_id = ?", table);
	sqlite3_stmt *st = prep(s, sql);
	free(sql);
	if (!st)
		return -1;
	bind_text(st, 1, group);
	return run(st);
}

static int ensure_group(struct store *s, const char *group)
{
	sqlite3_stmt *st = prep(s, "INSERT OR IGNORE INTO groups (id) VALUES (?)");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	return run(st);
}

/* The tables load alike and differ only in their columns. row fills one
 * element, zeroed first so that what it leaves alone is no stray pointer for
 * drop to free. drop releases what was read when a step fails (NULL: the
 * elements own nothing). group NULL: the statement takes no parameter. */
static int load_rows(struct store *s, const char *sql, const char *group, size_t size,
		     void (*row)(sqlite3_stmt *st, void *elem), void (*drop)(void *v, size_t n),
		     void **out, size_t *n)
{
	unsigned char *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, sql);
	if (!st)
		return -1;
	if (group)
		bind_text(st, 1, group);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, size);
		void *e = v + cnt++ * size;
		memset(e, 0, size);
		row(st, e);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if (drop)
			drop(v, cnt);
		else
			free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Parameter 1 of every table's INSERT is the group; bind fills the rest from
 * one element. The caller finalizes st, also after a failed row. */
static int insert_rows(sqlite3_stmt *st, const char *group, const void *v, size_t n, size_t size,
		       void (*bind)(sqlite3_stmt *st, const void *elem))
{
	const unsigned char *e = v;
	for (size_t i = 0; i < n; i++, e += size) {
		bind_text(st, 1, group);
		bind(st, e);
		if (step_reset(st) < 0)
			return -1;
	}
	return 0;
}

/* A save replaces all of the group's rows, so a row v no longer has is gone. */
static int save_rows(struct store *s, const char *table, const char *sql, const char *group,
		     const void *v, size_t n, size_t size,
		     void (*bind)(sqlite3_stmt *st, const void *elem))
{
	if (ensure_group(s, group) < 0 || delete_group_rows(s, table, group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, sql);
	if (!st)
		return -1;
	int rc = insert_rows(st, group, v, n, size, bind);
	sqlite3_finalize(st);
	return rc;
}

/* ---- groups ------------------------------------------------------------ */

int store_group_ids(struct store *s, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, "SELECT id FROM groups ORDER BY id");
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, sizeof *v);
		v[cnt++] = col_text(st, 0);
	}
	sqlite3_finalize(st);
	*out = v;
	*n = cnt;
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_group_load(struct store *s, const char *group, struct store_group *g)
{
	memset(g, 0, sizeof *g);
	sqlite3_stmt *st = prep(s, "SELECT inventory_at, watching_since, last_round_at, "
				"last_round_ms, readonly_plan, alert, refused_plan, failed_plan, "
				"failed_errors, failed_attempts, failed_since, failed_told_at, "
				"failback_delay_ms, rebalance, when_none_healthy "
				"FROM groups WHERE id = ?");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g->inventory_at = sqlite3_column_int64(st, 0);
		g->watching_since = sqlite3_column_int64(st, 1);
		g->last_round_at = sqlite3_column_int64(st, 2);
		g->last_round_ms = sqlite3_column_int64(st, 3);
		g->readonly_plan = col_text(st, 4);
		g->alert = col_text(st, 5);
		g->refused_plan = col_text(st, 6);
		g->failed_plan = col_text(st, 7);
		g->failed_errors = col_text(st, 8);
		g->failed_attempts = sqlite3_column_int64(st, 9);
		g->failed_since = sqlite3_column_int64(st, 10);
		g->failed_told_at = sqlite3_column_int64(st, 11);
		g->failback_delay_ms = sqlite3_column_int64(st, 12);
		g->planner.rebalance = sqlite3_column_int64(st, 13) != 0;
		const char *w = (const char *)sqlite3_column_text(st, 14);
		if (!w || plan_none_healthy_parse(w, &g->planner.when_none_healthy) < 0)
			g->planner.when_none_healthy = PLAN_FREEZE;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int store_group_save(struct store *s, const char *group, const struct store_group *g)
{
	sqlite3_stmt *st = prep(s,
		"INSERT INTO groups (id, inventory_at, watching_since, last_round_at, last_round_ms, "
		"readonly_plan, alert, refused_plan, failed_plan, failed_errors, failed_attempts, "
		"failed_since, failed_told_at, failback_delay_ms, rebalance, when_none_healthy) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT (id) DO UPDATE SET "
		"inventory_at = excluded.inventory_at, watching_since = excluded.watching_since, "
		"last_round_at = excluded.last_round_at, last_round_ms = excluded.last_round_ms, "
		"readonly_plan = excluded.readonly_plan, alert = excluded.alert, "
		"refused_plan = excluded.refused_plan, failed_plan = excluded.failed_plan, "
		"failed_errors = excluded.failed_errors, failed_attempts = excluded.failed_attempts, "
		"failed_since = excluded.failed_since, failed_told_at = excluded.failed_told_at, "
		"failback_delay_ms = excluded.failback_delay_ms, rebalance = excluded.rebalance, "
		"when_none_healthy = excluded.when_none_healthy");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	sqlite3_bind_int64(st, 2, g->inventory_at);
	sqlite3_bind_int64(st, 3, g->watching_since);
	sqlite3_bind_int64(st, 4, g->last_round_at);
	sqlite3_bind_int64(st, 5, g->last_round_ms);
	bind_text(st, 6, g->readonly_plan);
	bind_text(st, 7, g->alert);
	bind_text(st, 8, g->refused_plan);
	bind_text(st, 9, g->failed_plan);
	bind_text(st, 10, g->failed_errors);
	sqlite3_bind_int64(st, 11, g->failed_attempts);
	bind_opt_int(st, 12, g->failed_since != 0, g->failed_since);
	bind_opt_int(st, 13, g->failed_told_at != 0, g->failed_told_at);
	sqlite3_bind_int64(st, 14, g->failback_delay_ms);
	sqlite3_bind_int(st, 15, g->planner.rebalance);
	bind_text(st, 16, plan_none_healthy_name(g->planner.when_none_healthy));
	return run(st);
}

void store_group_release(struct store_group *g)
{
	free(g->readonly_plan);
	free(g->alert);
	free(g->refused_plan);
	free(g->failed_plan);
	free(g->failed_errors);
	memset(g, 0, sizeof *g);
}

/* ---- pass record -------------------------------------------------------- */

int store_pass_load(struct store *s, const char *group, struct store_pass *p)
{
	memset(p, 0, sizeof *p);
	sqlite3_stmt *st = prep(s, "SELECT deferred_since, defer_alert, last_pass_at, last_pass_ok, "
				"fail_phase, fail_error, fail_key, fail_since, last_ok_at, confirm_listing, "
				"corr_since, corr_hold_until, frozen_since, thaw_since FROM group_pass "
				"WHERE group_id = ?");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		p->deferred_since = sqlite3_column_int64(st, 0);
		p->defer_alert = col_text(st, 1);
		p->last_pass_at = sqlite3_column_int64(st, 2);
		p->last_pass_ok = sqlite3_column_int64(st, 3) != 0;
		p->fail_phase = col_text(st, 4);
		p->fail_error = col_text(st, 5);
		p->fail_key = col_text(st, 6);
		p->fail_since = sqlite3_column_int64(st, 7);
		p->last_ok_at = sqlite3_column_int64(st, 8);
		p->confirm_listing = sqlite3_column_int64(st, 9) != 0;
		p->corr_since = sqlite3_column_int64(st, 10);
		p->corr_hold_until = sqlite3_column_int64(st, 11);
		p->frozen_since = sqlite3_column_int64(st, 12);
		p->thaw_since = sqlite3_column_int64(st, 13);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int store_pass_save(struct store *s, const char *group, const struct store_pass *p)
{
	if (ensure_group(s, group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO group_pass (group_id, deferred_since, defer_alert, "
				"last_pass_at, last_pass_ok, fail_phase, fail_error, fail_key, fail_since, "
				"last_ok_at, confirm_listing, corr_since, corr_hold_until, frozen_since, "
				"thaw_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
				"ON CONFLICT (group_id) DO UPDATE SET "
				"deferred_since = excluded.deferred_since, "
				"defer_alert = excluded.defer_alert, last_pass_at = excluded.last_pass_at, "
				"last_pass_ok = excluded.last_pass_ok, fail_phase = excluded.fail_phase, "
				"fail_error = excluded.fail_error, fail_key = excluded.fail_key, "
				"fail_since = excluded.fail_since, last_ok_at = excluded.last_ok_at, "
				"confirm_listing = excluded.confirm_listing, "
				"corr_since = excluded.corr_since, corr_hold_until = excluded.corr_hold_until, "
				"frozen_since = excluded.frozen_since, thaw_since = excluded.thaw_since");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	sqlite3_bind_int64(st, 2, p->deferred_since);
	bind_text(st, 3, p->defer_alert);
	sqlite3_bind_int64(st, 4, p->last_pass_at);
	sqlite3_bind_int(st, 5, p->last_pass_ok);
	bind_text(st, 6, p->fail_phase);
	bind_text(st, 7, p->fail_error);
	bind_text(st, 8, p->fail_key);
	sqlite3_bind_int64(st, 9, p->fail_since);
	sqlite3_bind_int64(st, 10, p->last_ok_at);
	sqlite3_bind_int(st, 11, p->confirm_listing);
	sqlite3_bind_int64(st, 12, p->corr_since);
	sqlite3_bind_int64(st, 13, p->corr_hold_until);
	sqlite3_bind_int64(st, 14, p->frozen_since);
	sqlite3_bind_int64(st, 15, p->thaw_since);
	return run(st);
}

void store_pass_release(struct store_pass *p)
{
	free(p->defer_alert);
	free(p->fail_phase);
	free(p->fail_error);
	free(p->fail_key);
	memset(p, 0, sizeof *p);
}

static void hold_row(sqlite3_stmt *st, void *elem)
{
	struct store_hold *e = elem;
	e->fip = sqlite3_column_int64(st, 0);
	e->server = sqlite3_column_int64(st, 1);
	e->until = sqlite3_column_int64(st, 2);
}

int store_holds_load(struct store *s, const char *group, struct store_hold **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, "SELECT fip_id, server, until FROM fip_hold WHERE group_id = ? "
			   "ORDER BY fip_id", group, sizeof **out, hold_row, NULL, &v, n);
	*out = v;
	return rc;
}

static void hold_bind(sqlite3_stmt *st, const void *elem)
{
	const struct store_hold *e = elem;
	sqlite3_bind_int64(st, 2, e->fip);
	sqlite3_bind_int64(st, 3, e->server);
	sqlite3_bind_int64(st, 4, e->until);
}

int store_holds_save(struct store *s, const char *group, const struct store_hold *v, size_t n)
{
	return save_rows(s, "fip_hold", "INSERT INTO fip_hold (group_id, fip_id, server, until) "
			 "VALUES (?, ?, ?, ?)", group, v, n, sizeof *v, hold_bind);
}

/* ---- servers ----------------------------------------------------------- */

int store_server_health_put(struct store *s, const char *group, const struct store_server *v)
{
	if (!s->put_health &&
	    !(s->put_health = prep(s, "UPDATE servers SET health = ?, health_since = ? "
				   "WHERE group_id = ? AND id = ?")))
		return -1;
	sqlite3_stmt *st = s->put_health;
	bind_text(st, 1, health_name(v->health));
	sqlite3_bind_int64(st, 2, v->health_since);
	bind_text(st, 3, group);
	sqlite3_bind_int64(st, 4, v->s.id);
	return step_reset(st);
}

static const char *const gone_names[] = { NULL, "missing", "elsewhere" };

static void server_row(sqlite3_stmt *st, void *elem)
{
	struct store_server *e = elem;
	e->s.id = sqlite3_column_int64(st, 0);
	e->s.name = col_text(st, 1);
	e->s.status = col_text(st, 2);
	e->s.location = col_text(st, 3);
	e->s.network_zone = col_text(st, 4);
	e->s.ipv4 = col_text(st, 5);
	e->s.ipv6 = col_text(st, 6);
	e->s.has_index = sqlite3_column_type(st, 7) != SQLITE_NULL;
	e->s.resource_index = sqlite3_column_int64(st, 7);
	const char *h = (const char *)sqlite3_column_text(st, 8);
	if (!h || health_parse(h, &e->health) < 0)
		e->health = HEALTH_UNKNOWN;
	e->health_since = sqlite3_column_int64(st, 9);
	e->vanished_at = sqlite3_column_int64(st, 10);
	int64_t absent = sqlite3_column_int64(st, 11);
	e->absent_listings = absent < 0 ? 0 : absent > 1000 ? 1000 : (int)absent;
	const char *g = (const char *)sqlite3_column_text(st, 12);
	for (size_t k = 1; g && k < ARRAY_SIZE(gone_names); k++)
		if (strcmp(g, gone_names[k]) == 0)
			e->gone = (enum server_gone)k;
}

static void servers_drop(void *v, size_t n)
{
	store_servers_free(v, n);
}

static int servers_load(struct store *s, const char *group, bool vanished,
			struct store_server **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, vanished ?
			   "SELECT id, name, api_status, location, network_zone, ipv4, "
			   "ipv6, resource_index, health, health_since, vanished_at, "
			   "absent_listings, gone FROM servers "
			   "WHERE group_id = ? AND vanished_at != 0 ORDER BY id" :
			   "SELECT id, name, api_status, location, network_zone, ipv4, "
			   "ipv6, resource_index, health, health_since, vanished_at, "
			   "absent_listings, gone FROM servers "
			   "WHERE group_id = ? AND vanished_at = 0 ORDER BY id",
			   group, sizeof **out, server_row, servers_drop, &v, n);
	*out = v;
	return rc;
}

int store_servers_load(struct store *s, const char *group, struct store_server **out, size_t *n)
{
	return servers_load(s, group, false, out, n);
}

int store_vanished_load(struct store *s, const char *group, struct store_server **out, size_t *n)
{
	return servers_load(s, group, true, out, n);
}

static void server_bind(sqlite3_stmt *st, const void *elem)
{
	const struct store_server *e = elem;
	sqlite3_bind_int64(st, 2, e->s.id);
	bind_text(st, 3, e->s.name ? e->s.name : "");
	bind_text(st, 4, e->s.status);
	bind_text(st, 5, e->s.location);
	bind_text(st, 6, e->s.network_zone);
	bind_text(st, 7, e->s.ipv4);
	bind_text(st, 8, e->s.ipv6);
	bind_opt_int(st, 9, e->s.has_index, e->s.resource_index);
	bind_text(st, 10, health_name(e->health));
	sqlite3_bind_int64(st, 11, e->health_since);
	sqlite3_bind_int64(st, 12, e->vanished_at);
	sqlite3_bind_int(st, 13, e->absent_listings);
	bind_text(st, 14, (size_t)e->gone < ARRAY_SIZE(gone_names) ? gone_names[e->gone] : NULL);
}

int store_servers_save(struct store *s, const char *group, const struct store_server *v, size_t n,
		       const struct store_server *gone, size_t n_gone)
{
	if (ensure_group(s, group) < 0 || delete_group_rows(s, "servers", group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO servers (group_id, id, name, api_status, location, "
				"network_zone, ipv4, ipv6, resource_index, health, health_since, "
				"vanished_at, absent_listings, gone) "
				"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	int rc = insert_rows(st, group, v, n, sizeof *v, server_bind) < 0 ||
		 insert_rows(st, group, gone, n_gone, sizeof *gone, server_bind) < 0 ? -1 : 0;
	sqlite3_finalize(st);
	return rc;
}

void store_servers_free(struct store_server *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hc_server_release(&v[i].s);
	free(v);
}

/* ---- floating IPs ------------------------------------------------------ */

int64_t store_probation_until(const struct store_server *s, int64_t failback_delay_ms,
			      int64_t now)
{
	int64_t until;
	if (s->health != HEALTH_HEALTHY || failback_delay_ms <= 0 || s->health_since <= 0 ||
	    s->health_since > now ||
	    __builtin_add_overflow(s->health_since, failback_delay_ms, &until) || until <= now)
		return 0;
	return until;
}

void store_plan_inputs(const struct store_server *sv, size_t n_sv,
		       const struct hc_fip *fv, size_t n_fv, int64_t failback_delay_ms,
		       int64_t now, struct plan_server *ps, struct plan_fip *pf)
{
	for (size_t i = 0; i < n_sv; i++) {
		const struct store_server *s = &sv[i];
		ps[i] = (struct plan_server){
			.id = s->s.id, .name = s->s.name, .location = s->s.location,
			.network_zone = s->s.network_zone, .has_index = s->s.has_index,
			.resource_index = s->s.resource_index, .status = s->health,
			.probation = store_probation_until(s, failback_delay_ms, now) != 0,
		};
	}
	for (size_t i = 0; i < n_fv; i++) {
		const struct hc_fip *f = &fv[i];
		pf[i] = (struct plan_fip){
			.id = f->id, .name = f->name, .ip = f->ip, .location = f->location,
			.network_zone = f->network_zone, .has_index = f->has_index,
			.resource_index = f->resource_index, .server = f->server,
		};
	}
}

void store_pending_due(const struct plan *p, const struct store_server *sv, size_t n_sv,
		       int64_t failback_delay_ms, int64_t now, int64_t *due)
{
	for (size_t i = 0; i < p->n_pending; i++) {
		size_t lo = 0, hi = n_sv;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (sv[mid].s.id < p->pending[i].to)
				lo = mid + 1;
			else
				hi = mid;
		}
		due[i] = lo < n_sv && sv[lo].s.id == p->pending[i].to ?
			store_probation_until(&sv[lo], failback_delay_ms, now) : 0;
	}
}

static void fip_row(sqlite3_stmt *st, void *elem)
{
	struct hc_fip *e = elem;
	e->id = sqlite3_column_int64(st, 0);
	e->name = col_text(st, 1);
	e->ip = col_text(st, 2);
	e->type = col_text(st, 3);
	e->location = col_text(st, 4);
	e->network_zone = col_text(st, 5);
	e->has_index = sqlite3_column_type(st, 6) != SQLITE_NULL;
	e->resource_index = sqlite3_column_int64(st, 6);
	e->server = sqlite3_column_int64(st, 7);
}

static void fips_drop(void *v, size_t n)
{
	hc_fips_free(v, n);
}

int store_fips_load(struct store *s, const char *group, struct hc_fip **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, "SELECT id, name, ip, type, location, network_zone, "
			   "resource_index, server FROM floating_ips WHERE group_id = ? ORDER BY id",
			   group, sizeof **out, fip_row, fips_drop, &v, n);
	*out = v;
	return rc;
}

static void fip_bind(sqlite3_stmt *st, const void *elem)
{
	const struct hc_fip *e = elem;
	sqlite3_bind_int64(st, 2, e->id);
	bind_text(st, 3, e->name);
	bind_text(st, 4, e->ip);
	bind_text(st, 5, e->type);
	bind_text(st, 6, e->location);
	bind_text(st, 7, e->network_zone);
	bind_opt_int(st, 8, e->has_index, e->resource_index);
	bind_opt_int(st, 9, e->server != 0, e->server);
}

int store_fips_save(struct store *s, const char *group, const struct hc_fip *v, size_t n)
{
	return save_rows(s, "floating_ips", "INSERT INTO floating_ips (group_id, id, name, ip, "
			 "type, location, network_zone, resource_index, server) "
			 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", group, v, n, sizeof *v, fip_bind);
}

/* ---- targets ----------------------------------------------------------- */

static void target_row(sqlite3_stmt *st, void *elem)
{
	struct store_target *e = elem;
	e->server_id = sqlite3_column_int64(st, 0);
	e->check_id = col_text(st, 1);
	if (!e->check_id)
		e->check_id = xstrdup("");
	e->family = sqlite3_column_int(st, 2);
	int64_t r = sqlite3_column_int64(st, 3), f = sqlite3_column_int64(st, 4);
	e->c.rise_count = r < 0 ? 0 : r > INT32_MAX ? INT32_MAX : (int)r;
	e->c.fall_count = f < 0 ? 0 : f > INT32_MAX ? INT32_MAX : (int)f;
	const char *h = (const char *)sqlite3_column_text(st, 5);
	if (!h || health_parse(h, &e->c.state) < 0)
		e->c.state = HEALTH_UNKNOWN;
	e->last_run = sqlite3_column_int64(st, 6);
	e->last_ok = sqlite3_column_int64(st, 7);
	e->duration_ms = sqlite3_column_int64(st, 8);
	e->last_error = col_text(st, 9);
	e->cert_not_after = sqlite3_column_int64(st, 10);
}

static void targets_drop(void *v, size_t n)
{
	store_targets_free(v, n);
}

int store_targets_load(struct store *s, const char *group, struct store_target **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, "SELECT server_id, check_id, family, rise_count, fall_count, "
			   "state, last_run, last_ok, duration_ms, last_error, cert_not_after "
			   "FROM targets WHERE group_id = ? ORDER BY server_id, check_id, family",
			   group, sizeof **out, target_row, targets_drop, &v, n);
	*out = v;
	return rc;
}

int store_targets_clear(struct store *s, const char *group)
{
	return delete_group_rows(s, "targets", group);
}

int store_target_put(struct store *s, const char *group, const struct store_target *e)
{
	if (!s->put_target &&
	    !(s->put_target = prep(s, "INSERT INTO targets (group_id, server_id, check_id, family, "
				   "rise_count, fall_count, state, last_run, last_ok, duration_ms, "
				   "last_error, cert_not_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
				   "ON CONFLICT (group_id, server_id, check_id, family) DO UPDATE SET "
				   "rise_count = excluded.rise_count, fall_count = excluded.fall_count, "
				   "state = excluded.state, last_run = excluded.last_run, "
				   "last_ok = excluded.last_ok, duration_ms = excluded.duration_ms, "
				   "last_error = excluded.last_error, "
				   "cert_not_after = excluded.cert_not_after")))
		return -1;
	sqlite3_stmt *st = s->put_target;
	bind_text(st, 1, group);
	sqlite3_bind_int64(st, 2, e->server_id);
	bind_text(st, 3, e->check_id);
	sqlite3_bind_int(st, 4, e->family);
	sqlite3_bind_int(st, 5, e->c.rise_count);
	sqlite3_bind_int(st, 6, e->c.fall_count);
	bind_text(st, 7, health_name(e->c.state));
	sqlite3_bind_int64(st, 8, e->last_run);
	sqlite3_bind_int64(st, 9, e->last_ok);
	sqlite3_bind_int64(st, 10, e->duration_ms);
	bind_text(st, 11, e->last_error);
	sqlite3_bind_int64(st, 12, e->cert_not_after);
	return step_reset(st);
}

int store_cert_notice_get(struct store *s, const char *group, const char *fingerprint,
			  char **severity, int64_t *told_at)
{
	*severity = NULL;
	*told_at = 0;
	sqlite3_stmt *st = prep(s, "SELECT severity, told_at FROM cert_notice "
				"WHERE group_id = ? AND fingerprint = ?");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	bind_text(st, 2, fingerprint);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*severity = col_text(st, 0);
		*told_at = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int store_cert_notice_put(struct store *s, const char *group, const char *fingerprint,
			  const char *severity, int64_t told_at, int64_t forget_before)
{
	if (ensure_group(s, group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "DELETE FROM cert_notice WHERE group_id = ? AND told_at < ?");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	sqlite3_bind_int64(st, 2, forget_before);
	if (run(st) < 0)
		return -1;
	st = prep(s, "INSERT INTO cert_notice (group_id, fingerprint, severity, told_at) "
		  "VALUES (?, ?, ?, ?) ON CONFLICT (group_id, fingerprint) DO UPDATE SET "
		  "severity = excluded.severity, told_at = excluded.told_at");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	bind_text(st, 2, fingerprint);
	bind_text(st, 3, severity);
	sqlite3_bind_int64(st, 4, told_at);
	return run(st);
}

void store_targets_free(struct store_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].check_id);
		free(v[i].last_error);
	}
	free(v);
}

/* ---- the apply in progress ---------------------------------------------- */

static const char *const outcome_names[] = { NULL, "applied", "failed" };

static void apply_row(sqlite3_stmt *st, void *elem)
{
	struct store_apply_step *e = elem;
	e->fip = sqlite3_column_int64(st, 0);
	e->fip_name = col_text(st, 1);
	e->from = sqlite3_column_int64(st, 2);
	e->from_name = col_text(st, 3);
	e->to = sqlite3_column_int64(st, 4);
	e->to_name = col_text(st, 5);
	e->action_id = sqlite3_column_int64(st, 6);
	const char *o = (const char *)sqlite3_column_text(st, 7);
	for (size_t k = 1; o && k < ARRAY_SIZE(outcome_names); k++)
		if (strcmp(o, outcome_names[k]) == 0)
			e->outcome = (enum step_outcome)k;
	e->started_at = sqlite3_column_int64(st, 8);
}

static void apply_drop(void *v, size_t n)
{
	store_apply_free(v, n);
}

int store_apply_load(struct store *s, const char *group, struct store_apply_step **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, "SELECT fip_id, fip_name, from_server, from_name, to_server, "
			   "to_name, action_id, outcome, started_at FROM apply_step "
			   "WHERE group_id = ? ORDER BY fip_id",
			   group, sizeof **out, apply_row, apply_drop, &v, n);
	*out = v;
	return rc;
}

static void apply_bind(sqlite3_stmt *st, const void *elem)
{
	const struct store_apply_step *e = elem;
	sqlite3_bind_int64(st, 2, e->fip);
	bind_text(st, 3, e->fip_name);
	sqlite3_bind_int64(st, 4, e->from);
	bind_text(st, 5, e->from_name);
	sqlite3_bind_int64(st, 6, e->to);
	bind_text(st, 7, e->to_name);
	sqlite3_bind_int64(st, 8, e->action_id);
	bind_text(st, 9, (size_t)e->outcome < ARRAY_SIZE(outcome_names) ?
		  outcome_names[e->outcome] : NULL);
	sqlite3_bind_int64(st, 10, e->started_at);
}

int store_apply_save(struct store *s, const char *group, const struct store_apply_step *v, size_t n)
{
	if (!n)
		return ensure_group(s, group) < 0 ? -1 : delete_group_rows(s, "apply_step", group);
	return save_rows(s, "apply_step", "INSERT INTO apply_step (group_id, fip_id, fip_name, "
			 "from_server, from_name, to_server, to_name, action_id, outcome, started_at) "
			 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", group, v, n, sizeof *v, apply_bind);
}

void store_apply_free(struct store_apply_step *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].fip_name);
		free(v[i].from_name);
		free(v[i].to_name);
	}
	free(v);
}

/* ---- outbox ------------------------------------------------------------ */

int store_outbox_add(struct store *s, const char *group, const char *kind,
		     const char *target_hash, const char *target_key, const char *payload,
		     int64_t now)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO outbox (created_at, group_id, kind, target_hash, "
				"target_key, payload, next_attempt) VALUES (?, ?, ?, ?, ?, ?, 0)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, group);
	bind_text(st, 3, kind);
	bind_text(st, 4, target_hash);
	bind_text(st, 5, target_key);
	bind_text(st, 6, payload);
	return run(st);
}

static void outbox_row(sqlite3_stmt *st, void *elem)
{
	struct outbox_msg *e = elem;
	e->id = sqlite3_column_int64(st, 0);
	e->created_at = sqlite3_column_int64(st, 1);
	e->group_id = col_text(st, 2);
	e->kind = col_text(st, 3);
	e->target_hash = col_text(st, 4);
	e->payload = col_text(st, 5);
	e->attempts = sqlite3_column_int(st, 6);
	e->next_attempt = sqlite3_column_int64(st, 7);
	e->last_error = col_text(st, 8);
	e->target_key = col_text(st, 9);
	if (!e->kind)
		e->kind = xstrdup("");
	if (!e->target_hash)
		e->target_hash = xstrdup("");
	if (!e->payload)
		e->payload = xstrdup("{}");
}

static void outbox_drop(void *v, size_t n)
{
	store_outbox_free(v, n);
}

int store_outbox_load(struct store *s, struct outbox_msg **out, size_t *n)
{
	void *v;
	int rc = load_rows(s, "SELECT id, created_at, group_id, kind, target_hash, payload, "
			   "attempts, next_attempt, last_error, target_key FROM outbox ORDER BY id",
			   NULL, sizeof **out, outbox_row, outbox_drop, &v, n);
	*out = v;
	return rc;
}

int store_outbox_delete(struct store *s, int64_t id)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM outbox WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return run(st);
}

int store_outbox_retry(struct store *s, int64_t id, int attempts, int64_t next_attempt,
		       const char *error)
{
	sqlite3_stmt *st = prep(s, "UPDATE outbox SET attempts = ?, next_attempt = ?, "
				"last_error = ? WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, attempts);
	sqlite3_bind_int64(st, 2, next_attempt);
	bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, id);
	return run(st);
}

int64_t store_outbox_depth(struct store *s)
{
	int64_t n = 0;
	if (pragma_int(s->db, "SELECT count(*) FROM outbox", &n) < 0)
		return -1;
	return n;
}

int64_t store_outbox_next_attempt(struct store *s)
{
	int64_t n = 0;
	if (pragma_int(s->db, "SELECT coalesce(min(next_attempt), 0) FROM outbox", &n) < 0)
		return 0;
	return n;
}

void store_outbox_free(struct outbox_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].group_id);
		free(v[i].kind);
		free(v[i].target_hash);
		free(v[i].target_key);
		free(v[i].payload);
		free(v[i].last_error);
	}
	free(v);
}

/* ---- meta and counters -------------------------------------------------- */

char *store_meta_get(struct store *s, const char *key)
{
	sqlite3_stmt *st = prep(s, "SELECT value FROM meta WHERE key = ?");
	if (!st)
		return NULL;
	bind_text(st, 1, key);
	char *v = sqlite3_step(st) == SQLITE_ROW ? col_text(st, 0) : NULL;
	sqlite3_finalize(st);
	return v;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO meta (key, value) VALUES (?, ?) "
				"ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	if (!st)
		return -1;
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	return run(st);
}

int store_counter_add(struct store *s, const char *name, const char *labels, int64_t delta)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?) "
				"ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value");
	if (!st)
		return -1;
	bind_text(st, 1, name);
	bind_text(st, 2, labels);
	sqlite3_bind_int64(st, 3, delta);
	return run(st);
}

int store_counters_each(struct store *s,
			void (*fn)(void *arg, const char *name, const char *labels, int64_t value),
			void *arg)
{
	sqlite3_stmt *st = prep(s, "SELECT name, labels, value FROM counters ORDER BY name, labels");
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
