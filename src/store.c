/* store.c — the SQLite state file: lock, open, migrate, load and save. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
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
	bool readonly;
	/* A BEGIN or COMMIT failed since the last store_write_error_clear(). */
	bool write_failed;
	char write_error[256];
};

/* ---- lock ------------------------------------------------------------- */

int store_lock(const char *path, int *fd_out)
{
	char *lock_path = xasprintf("%s.lock", path);
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
	sqlite3_close(s->db);
	free(s);
}

void store_info_release(struct store_info *info)
{
	free(info->moved_aside);
	free(info->moved_reason);
	memset(info, 0, sizeof *info);
}

enum verdict { DB_OK, DB_NEW, DB_FOREIGN, DB_TOO_NEW, DB_IOERR };

/*
 * A sound header does not make a sound file: a damaged table or index
 * page shows only when something reads it, and then every later round
 * would fail on it. quick_check reads every page once (a state file is a
 * few pages per server, so this is microseconds to a few milliseconds);
 * a file it finds damaged is treated like a foreign one and moved aside.
 * An I/O error is not damage: it is reported, and the file left alone.
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
 * Is this an empty file, a flipper database, or something else? Reading
 * the header pragmas is enough to make SQLite reject a non-database.
 */
static enum verdict inspect(sqlite3 *db, char **why, int64_t *version)
{
	int64_t app = 0, tables = 0;
	if (pragma_int(db, "PRAGMA application_id", &app) < 0 ||
	    pragma_int(db, "PRAGMA user_version", version) < 0 ||
	    pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables) < 0) {
		int code = sqlite3_errcode(db);
		if (code == SQLITE_IOERR || code == SQLITE_CANTOPEN || code == SQLITE_BUSY ||
		    code == SQLITE_LOCKED || code == SQLITE_PERM || code == SQLITE_READONLY) {
			*why = xstrdup(sqlite3_errmsg(db));
			return DB_IOERR;
		}
		*why = xasprintf("not a SQLite database (%s)", sqlite3_errmsg(db));
		return DB_FOREIGN;
	}
	if (app == 0 && tables == 0)
		return DB_NEW;
	if (app != STORE_APPLICATION_ID) {
		*why = xasprintf("a SQLite database of another application (application_id %lld)",
				 (long long)app);
		return DB_FOREIGN;
	}
	if (*version > (int64_t)store_migration_count) {
		*why = xasprintf("written by a newer flipper (schema %lld, this one knows %zu)",
				 (long long)*version, store_migration_count);
		return DB_TOO_NEW;
	}
	return damaged(db, why) ? DB_FOREIGN : DB_OK;
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
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 0);
	return db;
}

static void move_aside(const char *path, struct store_info *info, char *why)
{
	char ts[32];
	struct buf name;
	int64_t now = now_ms();
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	buf_init(&name, 0);
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
	info->moved_reason = why;
}

struct store *store_open(const char *path, struct store_info *info, char **err)
{
	memset(info, 0, sizeof *info);
	*err = NULL;

	/* Create with 0600 ourselves: SQLite would use the umask. The
	 * -wal and -shm files take the database file's mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = xasprintf("cannot open state file \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		fchmod(fd, st.st_mode & 0700);
	close(fd);

	for (int attempt = 0; attempt < 2; attempt++) {
		sqlite3 *db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
		if (!db) {
			*err = xasprintf("cannot open state file \"%s\"", path);
			return NULL;
		}
		char *why = NULL;
		int64_t version = 0;
		enum verdict v = inspect(db, &why, &version);
		if (v == DB_FOREIGN && attempt == 0) {
			sqlite3_close(db);
			move_aside(path, info, why);
			if (!info->moved_aside) {
				*err = xasprintf("state file \"%s\" is not a flipper database (%s) and "
						 "cannot be moved aside: %s", path, info->moved_reason,
						 strerror(errno));
				return NULL;
			}
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (v != DB_OK && v != DB_NEW) {
			*err = xasprintf("state file \"%s\": %s", path, why ? why : "unusable");
			free(why);
			sqlite3_close(db);
			return NULL;
		}
		free(why);
		struct store *s = xcalloc(1, sizeof *s);
		s->db = db;
		info->created = v == DB_NEW;
		/*
		 * WAL with synchronous=NORMAL: a commit appends to the WAL and
		 * does not fsync; a crash of flipper loses nothing committed,
		 * a power cut may roll back the last rounds but never corrupts.
		 * No checkpoint on close either: SQLite checkpoints every 1000
		 * pages instead, so the common run (nothing due) never waits
		 * for the disk (fsyncs were three quarters of its time).
		 */
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
		if (exec(s, "PRAGMA journal_mode = WAL") < 0 ||
		    exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON") < 0) {
			*err = xasprintf("state file \"%s\": %s", path, sqlite3_errmsg(db));
			store_close(s);
			return NULL;
		}
		if (migrate(s, version, err) < 0) {
			store_close(s);
			return NULL;
		}
		return s;
	}
	*err = xasprintf("state file \"%s\" is still unusable after starting afresh", path);
	return NULL;
}

struct store *store_open_readonly(const char *path, char **err)
{
	*err = NULL;
	if (access(path, F_OK) < 0)
		return NULL;
	sqlite3 *db = open_db(path, SQLITE_OPEN_READONLY);
	if (!db) {
		*err = xasprintf("cannot open state file \"%s\" read-only", path);
		return NULL;
	}
	char *why = NULL;
	int64_t version = 0;
	enum verdict v = inspect(db, &why, &version);
	if (v == DB_NEW) {
		sqlite3_close(db);
		return NULL;
	}
	if (v != DB_OK || version != (int64_t)store_migration_count) {
		*err = xasprintf("state file \"%s\": %s", path,
				 why ? why : "schema is older than this flipper; run reconcile once to migrate it");
		free(why);
		sqlite3_close(db);
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof *s);
	s->db = db;
	s->readonly = true;
	return s;
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

/* ---- servers ----------------------------------------------------------- */

int store_servers_load(struct store *s, const char *group, struct store_server **out, size_t *n)
{
	struct store_server *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, "SELECT id, name, api_status, location, network_zone, ipv4, "
				"ipv6, resource_index, health, health_since FROM servers "
				"WHERE group_id = ? ORDER BY id");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, sizeof *v);
		struct store_server *e = &v[cnt++];
		memset(e, 0, sizeof *e);
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
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_servers_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store_servers_save(struct store *s, const char *group, const struct store_server *v, size_t n)
{
	if (ensure_group(s, group) < 0 || delete_group_rows(s, "servers", group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO servers (group_id, id, name, api_status, location, "
				"network_zone, ipv4, ipv6, resource_index, health, health_since) "
				"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct store_server *e = &v[i];
		bind_text(st, 1, group);
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
		if (step_reset(st) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return 0;
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

int store_fips_load(struct store *s, const char *group, struct hc_fip **out, size_t *n)
{
	struct hc_fip *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, "SELECT id, name, ip, type, location, network_zone, "
				"resource_index, server FROM floating_ips WHERE group_id = ? ORDER BY id");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, sizeof *v);
		struct hc_fip *e = &v[cnt++];
		memset(e, 0, sizeof *e);
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
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		hc_fips_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store_fips_save(struct store *s, const char *group, const struct hc_fip *v, size_t n)
{
	if (ensure_group(s, group) < 0 || delete_group_rows(s, "floating_ips", group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO floating_ips (group_id, id, name, ip, type, "
				"location, network_zone, resource_index, server) "
				"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct hc_fip *e = &v[i];
		bind_text(st, 1, group);
		sqlite3_bind_int64(st, 2, e->id);
		bind_text(st, 3, e->name);
		bind_text(st, 4, e->ip);
		bind_text(st, 5, e->type);
		bind_text(st, 6, e->location);
		bind_text(st, 7, e->network_zone);
		bind_opt_int(st, 8, e->has_index, e->resource_index);
		bind_opt_int(st, 9, e->server != 0, e->server);
		if (step_reset(st) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* ---- targets ----------------------------------------------------------- */

int store_targets_load(struct store *s, const char *group, struct store_target **out, size_t *n)
{
	struct store_target *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, "SELECT server_id, check_id, family, rise_count, fall_count, "
				"state, last_run, last_ok, duration_ms, last_error FROM targets "
				"WHERE group_id = ? ORDER BY server_id, check_id, family");
	if (!st)
		return -1;
	bind_text(st, 1, group);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, sizeof *v);
		struct store_target *e = &v[cnt++];
		memset(e, 0, sizeof *e);
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
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_targets_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store_targets_save(struct store *s, const char *group, const struct store_target *v, size_t n)
{
	if (ensure_group(s, group) < 0 || delete_group_rows(s, "targets", group) < 0)
		return -1;
	sqlite3_stmt *st = prep(s, "INSERT INTO targets (group_id, server_id, check_id, family, "
				"rise_count, fall_count, state, last_run, last_ok, duration_ms, "
				"last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct store_target *e = &v[i];
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
		if (step_reset(st) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

void store_targets_free(struct store_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].check_id);
		free(v[i].last_error);
	}
	free(v);
}

/* ---- outbox ------------------------------------------------------------ */

int store_outbox_add(struct store *s, const char *group, const char *kind,
		     const char *target_hash, const char *payload, int64_t now)
{
	sqlite3_stmt *st = prep(s, "INSERT INTO outbox (created_at, group_id, kind, target_hash, "
				"payload, next_attempt) VALUES (?, ?, ?, ?, ?, 0)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, group);
	bind_text(st, 3, kind);
	bind_text(st, 4, target_hash);
	bind_text(st, 5, payload);
	return run(st);
}

int store_outbox_load(struct store *s, struct outbox_msg **out, size_t *n)
{
	struct outbox_msg *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = prep(s, "SELECT id, created_at, group_id, kind, target_hash, payload, "
				"attempts, next_attempt, last_error FROM outbox ORDER BY id");
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xgrow(v, &cap, cnt + 1, sizeof *v);
		struct outbox_msg *e = &v[cnt++];
		e->id = sqlite3_column_int64(st, 0);
		e->created_at = sqlite3_column_int64(st, 1);
		e->group_id = col_text(st, 2);
		e->kind = col_text(st, 3);
		e->target_hash = col_text(st, 4);
		e->payload = col_text(st, 5);
		e->attempts = sqlite3_column_int(st, 6);
		e->next_attempt = sqlite3_column_int64(st, 7);
		e->last_error = col_text(st, 8);
		if (!e->kind)
			e->kind = xstrdup("");
		if (!e->target_hash)
			e->target_hash = xstrdup("");
		if (!e->payload)
			e->payload = xstrdup("{}");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_outbox_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
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

void store_outbox_free(struct outbox_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].group_id);
		free(v[i].kind);
		free(v[i].target_hash);
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
