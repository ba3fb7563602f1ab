/*
 * planner.c — the deterministic planner (SPEC section 5).
 *
 * Every move drops the connections that use the IP, so the plan moves an
 * IP only for a reason. Shape of the computation, all
 * O((servers + IPs) log):
 *   1. candidates (the healthy servers) sorted once into candidate order;
 *      their index in that order is their rank, the final tie-breaker
 *      everywhere. No healthy server: freeze (nothing to plan) or, with
 *      when_none_healthy: spread, every server is a candidate;
 *   2. candidates grouped into pools: one per (network zone, location)
 *      and one per network zone, found by binary search;
 *   3. every IP learns why it cannot stay where it is, if it cannot;
 *   4. canonical pass: binary search for (location, resource_index)
 *      inside the IP's location pool;
 *   5. stay pass: every other IP that may stay, stays;
 *   6. spread pass, only for the IPs that must move: a min-heap per pool
 *      keyed by (count, rank). A candidate's count changes through any of
 *      its heaps, so the others keep stale entries; every change pushes a
 *      fresh entry to each heap the candidate is in, and stale entries
 *      (whose count is no longer the candidate's) are dropped when they
 *      reach the top;
 *   7. rebalance (option): per location, from the most-loaded server to
 *      the least-loaded, until no two differ by more than one, with a
 *      max-heap and a min-heap kept the same lazy way.
 *
 * Probation withholds the moves that only make things tidier (canonical,
 * return home, rebalance) from a server that just became healthy; the IP
 * stays where it is and the move is listed as pending.
 *
 * Pools are keyed by (zone, location) rather than location alone: in
 * Hetzner a location belongs to exactly one network zone, but should the
 * input ever disagree, an IP must still never be given to a server in
 * another zone (the API would refuse the assignment).
 */
#include "planner.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const health_names[] = {
	[HEALTH_UNKNOWN] = "unknown",
	[HEALTH_HEALTHY] = "healthy",
	[HEALTH_UNHEALTHY] = "unhealthy",
	[HEALTH_UNCHECKABLE] = "uncheckable",
};

static const char *const reason_names[] = {
	[REASON_UNASSIGNED] = "unassigned",
	[REASON_TARGET_MISSING] = "target_missing",
	[REASON_TARGET_UNHEALTHY] = "target_unhealthy",
	[REASON_TARGET_NOT_CANDIDATE] = "target_not_candidate",
	[REASON_RETURN_HOME] = "return_home",
	[REASON_CANONICAL] = "canonical",
	[REASON_REBALANCE] = "rebalance",
	[REASON_PENDING] = "pending",
};

static const char *const skip_names[] = {
	[SKIP_FOREIGN_TARGET] = "foreign_target",
	[SKIP_NO_CANDIDATE] = "no_candidate",
};

/* NULL-terminated: the configuration's key table reads it too. */
const char *const plan_none_healthy_names[] = {
	[PLAN_FREEZE] = "freeze",
	[PLAN_SPREAD] = "spread",
	NULL,
};

static const char *name_of(const char *const *names, size_t n, size_t i)
{
	return i < n && names[i] ? names[i] : "invalid";
}

static int index_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *health_name(enum health h)
{
	return name_of(health_names, ARRAY_SIZE(health_names), (size_t)h);
}

int health_parse(const char *s, enum health *out)
{
	int i = index_of(health_names, ARRAY_SIZE(health_names), s);
	if (i < 0)
		return -1;
	*out = (enum health)i;
	return 0;
}

const char *plan_reason_name(enum plan_reason r)
{
	return name_of(reason_names, ARRAY_SIZE(reason_names), (size_t)r);
}

const char *plan_skip_name(enum plan_skip_reason r)
{
	return name_of(skip_names, ARRAY_SIZE(skip_names), (size_t)r);
}

const char *plan_none_healthy_name(enum plan_none_healthy w)
{
	return name_of(plan_none_healthy_names, ARRAY_SIZE(plan_none_healthy_names) - 1, (size_t)w);
}

int plan_none_healthy_parse(const char *s, enum plan_none_healthy *out)
{
	int i = index_of(plan_none_healthy_names, ARRAY_SIZE(plan_none_healthy_names) - 1, s);
	if (i < 0)
		return -1;
	*out = (enum plan_none_healthy)i;
	return 0;
}

/* Comparisons. A NULL string sorts and matches as "". */

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_size(size_t a, size_t b)
{
	return (a > b) - (a < b);
}

/* resource_index order: integers ascending, none last. */
static int cmp_index(bool ha, int64_t a, bool hb, int64_t b)
{
	if (ha != hb)
		return ha ? -1 : 1;
	return ha ? cmp_i64(a, b) : 0;
}

/*
 * Candidate order: location, resource_index, name, id. The rest only
 * breaks ties between entries that share an id (the caller's mistake),
 * so even that input gives one answer.
 */
static int cmp_server(const struct plan_server *a, const struct plan_server *b)
{
	int c;

	if ((c = cmp_str(a->location, b->location)) ||
	    (c = cmp_index(a->has_index, a->resource_index,
			   b->has_index, b->resource_index)) ||
	    (c = cmp_str(a->name, b->name)) ||
	    (c = cmp_i64(a->id, b->id)) ||
	    (c = cmp_str(a->network_zone, b->network_zone)) ||
	    (c = cmp_i64(a->status, b->status)))
		return c;
	return cmp_i64(a->probation, b->probation);
}

static int cmp_candidate_order(const void *pa, const void *pb)
{
	return cmp_server(*(const struct plan_server *const *)pa,
			  *(const struct plan_server *const *)pb);
}

/* Floating IPs by id; the rest only orders duplicate ids. */
static int cmp_fip(const void *pa, const void *pb)
{
	const struct plan_fip *a = *(const struct plan_fip *const *)pa;
	const struct plan_fip *b = *(const struct plan_fip *const *)pb;
	int c;

	if ((c = cmp_i64(a->id, b->id)) ||
	    (c = cmp_i64(a->server, b->server)) ||
	    (c = cmp_i64(a->server_missing, b->server_missing)) ||
	    (c = cmp_str(a->network_zone, b->network_zone)) ||
	    (c = cmp_str(a->location, b->location)) ||
	    (c = cmp_index(a->has_index, a->resource_index,
			   b->has_index, b->resource_index)) ||
	    (c = cmp_str(a->name, b->name)))
		return c;
	return cmp_str(a->ip, b->ip);
}

/*
 * Heaps of (key, rank): a min-heap gives the least-loaded candidate
 * first in order, a max-heap the most-loaded one first in order.
 */
struct hent {
	size_t key;
	size_t c;                    /* candidate rank */
};

struct heap {
	struct hent *a;
	size_t n, cap;
	bool max;
};

static bool hent_before(const struct heap *h, struct hent x, struct hent y)
{
	if (x.key != y.key)
		return h->max ? x.key > y.key : x.key < y.key;
	return x.c < y.c;
}

static void heap_sift_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && hent_before(h, h->a[l], h->a[m]))
			m = l;
		if (r < h->n && hent_before(h, h->a[r], h->a[m]))
			m = r;
		if (m == i)
			return;
		struct hent t = h->a[i];
		h->a[i] = h->a[m];
		h->a[m] = t;
		i = m;
	}
}

static void heap_push(struct heap *h, struct hent e)
{
	h->a = xgrow(h->a, &h->cap, h->n + 1, sizeof *h->a);
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!hent_before(h, e, h->a[p]))
			break;
		h->a[i] = h->a[p];
		i = p;
	}
	h->a[i] = e;
}

static void heap_pop(struct heap *h)
{
	h->a[0] = h->a[--h->n];
	heap_sift_down(h, 0);
}

static void heap_clear(struct heap *h)
{
	free(h->a);
	memset(h, 0, sizeof *h);
}

/* A max-heap of job indexes: jobs are in id order, so the highest id first. */
struct idheap {
	size_t *a;
	size_t n, cap;
};

static void idheap_push(struct idheap *h, size_t v)
{
	h->a = xgrow(h->a, &h->cap, h->n + 1, sizeof *h->a);
	size_t i = h->n++;
	while (i > 0 && h->a[(i - 1) / 2] < v) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = v;
}

static size_t idheap_pop(struct idheap *h)
{
	size_t top = h->a[0], v = h->a[--h->n], i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = l;
		if (l >= h->n)
			break;
		if (l + 1 < h->n && h->a[l + 1] > h->a[l])
			m = l + 1;
		if (h->a[m] <= v)
			break;
		h->a[i] = h->a[m];
		i = m;
	}
	if (h->n)
		h->a[i] = v;
	return top;
}

struct cand {
	const struct plan_server *s;
	size_t rank;                 /* its index in candidate order */
	size_t loc, zone;            /* its pools */
	bool probation;
	size_t count;                /* IPs on it in this plan so far */
	struct idheap movable;       /* rebalance: the IPs it may give, by job */
};

/*
 * A set of candidates an IP may be given to: a range of bypool[], which
 * is sorted by (zone, location, rank), so every pool lists its members
 * in candidate order.
 */
struct pool {
	const char *zone;
	const char *location;        /* NULL for a zone pool */
	size_t first, n;             /* range in bypool[] */
	size_t first_loc, n_loc;     /* zone pool: its location pools */
	size_t n_settled;            /* members not in probation */
	struct heap heap;            /* every member, by count */
	struct heap settled;         /* location pool: members not in probation */
};

/* A server of the group, found by id. */
struct member {
	const struct plan_server *s;
	struct cand *c;              /* NULL: not a candidate */
};

struct planner {
	struct cand *cands;          /* in candidate order */
	size_t n_cands;
	struct cand **bypool;
	struct pool *locs, *zones;
	size_t n_locs, n_zones;
	struct member *members;      /* by id, then candidate order */
	size_t n_members;
	bool heaps_built;
};

static int cmp_member(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = cmp_i64(a->s->id, b->s->id);
	return c ? c : cmp_server(a->s, b->s);
}

/* The first member with this id (in candidate order), or NULL. */
static const struct member *find_member(const struct planner *pl, int64_t id)
{
	size_t lo = 0, hi = pl->n_members;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pl->members[mid].s->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pl->n_members && pl->members[lo].s->id == id ? &pl->members[lo] : NULL;
}

static int cmp_bypool(const void *pa, const void *pb)
{
	const struct cand *a = *(const struct cand *const *)pa;
	const struct cand *b = *(const struct cand *const *)pb;
	int c;

	if ((c = cmp_str(a->s->network_zone, b->s->network_zone)) ||
	    (c = cmp_str(a->s->location, b->s->location)))
		return c;
	return cmp_size(a->rank, b->rank);
}

static void pool_add(struct pool **arr, size_t *n, size_t *cap,
		     const char *zone, const char *location, size_t first)
{
	*arr = xgrow(*arr, cap, *n + 1, sizeof **arr);
	struct pool *p = &(*arr)[(*n)++];
	memset(p, 0, sizeof *p);
	p->zone = zone;
	p->location = location;
	p->first = first;
}

/* Who the candidates are: the healthy servers, or when none is, all or none. */
enum cands { CANDS_HEALTHY, CANDS_ALL, CANDS_NONE };

static bool is_cand(const struct plan_server *s, enum cands who)
{
	return who == CANDS_ALL || (who == CANDS_HEALTHY && s->status == HEALTH_HEALTHY);
}

static void planner_init(struct planner *pl, const struct plan_server *servers,
			 size_t n_servers, enum cands who)
{
	size_t n = 0;
	const struct plan_server **order = xmalloc(n_servers * sizeof *order);
	for (size_t i = 0; i < n_servers; i++)
		if (is_cand(&servers[i], who))
			order[n++] = &servers[i];
	qsort(order, n, sizeof *order, cmp_candidate_order);

	pl->n_cands = n;
	pl->cands = xcalloc(n, sizeof *pl->cands);
	pl->bypool = xmalloc(n * sizeof *pl->bypool);
	for (size_t i = 0; i < n; i++) {
		struct cand *c = &pl->cands[i];
		c->s = order[i];
		c->rank = i;
		/* Probation only delays a healthy server's failbacks. */
		c->probation = order[i]->probation && order[i]->status == HEALTH_HEALTHY;
		pl->bypool[i] = c;
	}
	free(order);
	qsort(pl->bypool, n, sizeof *pl->bypool, cmp_bypool);

	/* Every server, by id, knowing its candidate if it is one. */
	pl->members = xcalloc(n_servers, sizeof *pl->members);
	pl->n_members = n_servers;
	for (size_t i = 0; i < n; i++)
		pl->members[i] = (struct member){ pl->cands[i].s, &pl->cands[i] };
	for (size_t i = 0, k = n; i < n_servers; i++)
		if (!is_cand(&servers[i], who))
			pl->members[k++] = (struct member){ &servers[i], NULL };
	qsort(pl->members, n_servers, sizeof *pl->members, cmp_member);

	size_t cap_locs = 0, cap_zones = 0;
	for (size_t i = 0; i < n; i++) {
		struct cand *c = pl->bypool[i];
		const struct plan_server *s = c->s;
		bool new_zone = i == 0 ||
			cmp_str(s->network_zone, pl->bypool[i - 1]->s->network_zone) != 0;
		if (new_zone) {
			pool_add(&pl->zones, &pl->n_zones, &cap_zones,
				 s->network_zone, NULL, i);
			pl->zones[pl->n_zones - 1].first_loc = pl->n_locs;
		}
		if (new_zone || cmp_str(s->location, pl->bypool[i - 1]->s->location) != 0) {
			pool_add(&pl->locs, &pl->n_locs, &cap_locs,
				 s->network_zone, s->location, i);
			pl->zones[pl->n_zones - 1].n_loc++;
		}
		struct pool *zp = &pl->zones[pl->n_zones - 1], *lp = &pl->locs[pl->n_locs - 1];
		zp->n++;
		lp->n++;
		zp->n_settled += !c->probation;
		lp->n_settled += !c->probation;
		c->zone = pl->n_zones - 1;
		c->loc = pl->n_locs - 1;
	}
}

static void planner_release(struct planner *pl)
{
	for (size_t i = 0; i < pl->n_locs; i++) {
		heap_clear(&pl->locs[i].heap);
		heap_clear(&pl->locs[i].settled);
	}
	for (size_t i = 0; i < pl->n_zones; i++)
		heap_clear(&pl->zones[i].heap);
	for (size_t i = 0; i < pl->n_cands; i++)
		free(pl->cands[i].movable.a);
	free(pl->cands);
	free(pl->bypool);
	free(pl->locs);
	free(pl->zones);
	free(pl->members);
}

/* The zone pool of this network zone, or NULL: no candidate there. */
static struct pool *find_zone(const struct planner *pl, const char *zone)
{
	size_t lo = 0, hi = pl->n_zones;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_str(pl->zones[mid].zone, zone);
		if (c == 0)
			return &pl->zones[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The location pool of (zone, location), or NULL. */
static struct pool *find_location(const struct planner *pl, const struct pool *zp,
				  const char *location)
{
	size_t lo = zp->first_loc, hi = zp->first_loc + zp->n_loc;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_str(pl->locs[mid].location, location);
		if (c == 0)
			return &pl->locs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The first candidate of the pool (in candidate order) with this
 * resource_index, or NULL. Inside one location the order starts with
 * resource_index ascending, none last, so a lower bound finds it.
 */
static struct cand *find_canonical(const struct planner *pl, const struct pool *lp,
				   int64_t index)
{
	size_t lo = lp->first, hi = lp->first + lp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct plan_server *s = pl->bypool[mid]->s;
		if (s->has_index && s->resource_index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < lp->first + lp->n) {
		const struct plan_server *s = pl->bypool[lo]->s;
		if (s->has_index && s->resource_index == index)
			return pl->bypool[lo];
	}
	return NULL;
}

/* ---- spreading: least-loaded first ------------------------------------- */

static void pool_heaps_build(struct planner *pl, struct pool *p, bool location)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct cand *c = pl->bypool[p->first + i];
		struct hent e = { c->count, c->rank };
		heap_push(&p->heap, e);
		if (location && !c->probation)
			heap_push(&p->settled, e);
	}
}

/* The candidate an entry names, when the entry is still current. */
static struct cand *heap_top(struct planner *pl, struct heap *h)
{
	while (h->n > 0 && h->a[0].key != pl->cands[h->a[0].c].count)
		heap_pop(h);
	return h->n ? &pl->cands[h->a[0].c] : NULL;
}

/* One IP more (or less) on c: before the heaps exist only the count matters. */
static void cand_add(struct planner *pl, struct cand *c, int delta)
{
	c->count = delta < 0 ? c->count - 1 : c->count + 1;
	if (!pl->heaps_built)
		return;
	struct hent e = { c->count, c->rank };
	heap_push(&pl->locs[c->loc].heap, e);
	heap_push(&pl->zones[c->zone].heap, e);
	if (!c->probation)
		heap_push(&pl->locs[c->loc].settled, e);
}

/* ---- the floating IPs --------------------------------------------------- */

#define NO_REASON (-1)

/* One floating IP on its way through the passes. */
struct job {
	const struct plan_fip *f;
	const struct member *cur;    /* its current server, if in the group */
	struct pool *zone, *loc;     /* loc may be NULL */
	int must;                    /* why it cannot stay, or NO_REASON */
	enum { OPEN, CANONICAL, STAYS, SPREAD } how;
	struct cand *to;             /* NULL: stays on a server that is no candidate */
	bool pending;                /* a move withheld by probation: */
	enum plan_reason pending_why;
	struct cand *pending_to;
	bool rebalanced;
};

/* May a server with this status keep the IPs it holds? */
static bool may_keep(enum health h)
{
	return h == HEALTH_HEALTHY || h == HEALTH_UNKNOWN || h == HEALTH_UNCHECKABLE;
}

/* Why the IP cannot stay where it is (SPEC 5.5), or NO_REASON. */
static int why_move(const struct job *j)
{
	const struct plan_fip *f = j->f;
	if (f->server == 0)
		return REASON_UNASSIGNED;
	if (!j->cur)
		return REASON_TARGET_MISSING;
	const struct plan_server *s = j->cur->s;
	if (!j->cur->c && !may_keep(s->status))
		return REASON_TARGET_UNHEALTHY;
	if (cmp_str(s->network_zone, f->network_zone) != 0)
		return REASON_TARGET_NOT_CANDIDATE;
	if (j->loc && cmp_str(s->location, f->location) != 0)
		return REASON_RETURN_HOME;
	return NO_REASON;
}

/* Must move now, whatever probation says. */
static bool must_leave(int why)
{
	return why != NO_REASON && why != REASON_RETURN_HOME;
}

static int64_t job_to(const struct job *j)
{
	if (j->to)
		return j->to->s->id;
	return j->f->server;
}

/* Stay where it is: its server, when a candidate, carries it. */
static void job_stay(struct planner *pl, struct job *j)
{
	j->how = STAYS;
	if (j->cur && j->cur->c) {
		j->to = j->cur->c;
		cand_add(pl, j->to, 1);
	}
}

static void plan_skip_add(struct plan *out, size_t *cap, const struct plan_fip *f,
			  enum plan_skip_reason why)
{
	out->skipped = xgrow(out->skipped, cap, out->n_skipped + 1, sizeof *out->skipped);
	out->skipped[out->n_skipped++] = (struct plan_skip){ f->id, f->server, why };
}

static void canonical_pass(struct planner *pl, struct job *jobs, size_t n_jobs)
{
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (!j->f->has_index || !j->loc)
			continue;
		struct cand *c = find_canonical(pl, j->loc, j->f->resource_index);
		if (!c)
			continue;
		bool there = j->cur && j->cur->c == c;
		if (there || !c->probation || must_leave(j->must)) {
			j->how = CANONICAL;
			j->to = c;
			cand_add(pl, c, 1);
		} else {
			/* It may stay (or has only a return home to make): it waits. */
			j->pending = true;
			j->pending_why = REASON_CANONICAL;
			j->pending_to = c;
			job_stay(pl, j);
		}
	}
}

static void stay_pass(struct planner *pl, struct job *jobs, size_t n_jobs)
{
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (j->how != OPEN)
			continue;
		if (j->must == NO_REASON) {
			job_stay(pl, j);
		} else if (j->must == REASON_RETURN_HOME && j->loc->n_settled == 0) {
			/* Home has only servers in probation: the IP waits where it is. */
			j->pending = true;
			j->pending_why = REASON_RETURN_HOME;
			job_stay(pl, j);
		}
	}
}

static void spread_pass(struct planner *pl, struct job *jobs, size_t n_jobs)
{
	for (size_t i = 0; i < pl->n_locs; i++)
		pool_heaps_build(pl, &pl->locs[i], true);
	for (size_t i = 0; i < pl->n_zones; i++)
		pool_heaps_build(pl, &pl->zones[i], false);
	pl->heaps_built = true;

	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (j->how != OPEN)
			continue;
		struct heap *h = j->must == REASON_RETURN_HOME ? &j->loc->settled
			: j->loc ? &j->loc->heap : &j->zone->heap;
		j->how = SPREAD;
		j->to = heap_top(pl, h);
		if (j->to)           /* always: every pool has a current entry per member */
			cand_add(pl, j->to, 1);
	}
}

/* ---- rebalance: fewest moves to an even spread per location ----------- */

static struct cand *rb_top(struct planner *pl, struct heap *h)
{
	while (h->n > 0 && h->a[0].key != pl->cands[h->a[0].c].movable.n)
		heap_pop(h);
	return h->n ? &pl->cands[h->a[0].c] : NULL;
}

static void rb_push(struct heap *most, struct heap *least, const struct cand *c)
{
	struct hent e = { c->movable.n, c->rank };
	heap_push(most, e);
	heap_push(least, e);
}

/*
 * Move one IP at a time from the most-loaded member (its highest IP id)
 * to the least-loaded, until no two differ by more than one. That is
 * the fewest moves: a member that receives never gives again, since
 * the most-loaded only shrinks and a receiver ends at most one above the
 * least-loaded.
 *
 * preview: the members in probation take part, and a move to one of
 * them is listed as pending: it is the move the plan makes once their
 * probation is over, if nothing else changes. It runs after the real
 * pass, so its "from" is where the IP will be after this plan.
 */
static void rebalance_location(struct planner *pl, struct pool *lp, struct job *jobs,
			       bool preview)
{
	struct heap most = { .max = true }, least = { .max = false };

	for (size_t i = 0; i < lp->n; i++) {
		struct cand *c = pl->bypool[lp->first + i];
		if (preview || !c->probation)
			rb_push(&most, &least, c);
	}
	for (;;) {
		struct cand *from = rb_top(pl, &most), *to = rb_top(pl, &least);
		if (!from || !to || from->movable.n < to->movable.n + 2)
			break;
		struct job *j = &jobs[idheap_pop(&from->movable)];
		idheap_push(&to->movable, (size_t)(j - jobs));
		rb_push(&most, &least, from);
		rb_push(&most, &least, to);
		if (!preview) {
			j->to = to;
			j->rebalanced = true;
			cand_add(pl, from, -1);
			cand_add(pl, to, 1);
		} else if (to->probation) {
			j->pending = true;
			j->pending_why = REASON_REBALANCE;
			j->pending_to = to;
		}
	}
	heap_clear(&most);
	heap_clear(&least);
}

static void rebalance_pass(struct planner *pl, struct job *jobs, size_t n_jobs)
{
	/* Movable: on a candidate of its home location, neither canonical nor waiting. */
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (j->to && j->loc && &pl->locs[j->to->loc] == j->loc &&
		    j->how != CANONICAL && !j->pending)
			idheap_push(&j->to->movable, i);
	}
	for (size_t i = 0; i < pl->n_locs; i++) {
		struct pool *lp = &pl->locs[i];
		rebalance_location(pl, lp, jobs, false);
		if (lp->n_settled < lp->n)
			rebalance_location(pl, lp, jobs, true);
	}
}

/*
 * The server each withheld return home will go to: the least-loaded at
 * home once everything else is placed, loading it as the pass after the
 * probation will.
 */
static void name_pending_returns(struct planner *pl, struct job *jobs, size_t n_jobs)
{
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (!j->pending || j->pending_why != REASON_RETURN_HOME)
			continue;
		j->pending_to = heap_top(pl, &j->loc->heap);
		if (j->pending_to)   /* always: home has candidates */
			cand_add(pl, j->pending_to, 1);
	}
}

/* ---- the plan ------------------------------------------------------------ */

static void emit(struct plan *out, const struct job *jobs, size_t n_jobs)
{
	size_t cap_actions = 0, cap_pending = 0;

	for (size_t i = 0; i < n_jobs; i++) {
		const struct job *j = &jobs[i];
		if (j->pending && j->pending_to) {
			out->pending = xgrow(out->pending, &cap_pending, out->n_pending + 1,
					     sizeof *out->pending);
			out->pending[out->n_pending++] = (struct plan_action){
				.fip = j->f->id, .from = job_to(j), .to = j->pending_to->s->id,
				.reason = REASON_PENDING, .withheld = j->pending_why,
			};
		}
		int64_t to = job_to(j);
		if (to == j->f->server)
			continue;
		enum plan_reason why = j->must != NO_REASON ? (enum plan_reason)j->must
			: j->how == CANONICAL ? REASON_CANONICAL : REASON_REBALANCE;
		out->actions = xgrow(out->actions, &cap_actions, out->n_actions + 1,
				     sizeof *out->actions);
		out->actions[out->n_actions++] = (struct plan_action){
			.fip = j->f->id, .from = j->f->server, .to = to, .reason = why,
		};
	}
}

void plan_compute(const struct plan_options *opts,
		  const struct plan_server *servers, size_t n_servers,
		  const struct plan_fip *fips, size_t n_fips, struct plan *out)
{
	static const struct plan_options defaults;
	struct planner pl = { 0 };
	size_t cap_skipped = 0, n_jobs = 0, n_healthy = 0;

	if (!opts)
		opts = &defaults;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n_servers; i++)
		n_healthy += servers[i].status == HEALTH_HEALTHY;
	bool none = n_servers > 0 && n_healthy == 0;
	out->frozen = none && opts->when_none_healthy != PLAN_SPREAD;
	out->fail_open = none && opts->when_none_healthy == PLAN_SPREAD;
	planner_init(&pl, servers, n_servers, out->frozen ? CANDS_NONE
		     : out->fail_open ? CANDS_ALL : CANDS_HEALTHY);
	out->n_candidates = pl.n_cands;

	const struct plan_fip **byid = xmalloc(n_fips * sizeof *byid);
	for (size_t i = 0; i < n_fips; i++)
		byid[i] = &fips[i];
	qsort(byid, n_fips, sizeof *byid, cmp_fip);

	/* Which IPs are ours to move; skipped ones are reported in id order. */
	struct job *jobs = xcalloc(n_fips, sizeof *jobs);
	for (size_t i = 0; i < n_fips; i++) {
		const struct plan_fip *f = byid[i];
		const struct member *cur = f->server ? find_member(&pl, f->server) : NULL;
		if (f->server && !cur && !f->server_missing) {
			plan_skip_add(out, &cap_skipped, f, SKIP_FOREIGN_TARGET);
			continue;
		}
		/* Frozen: nothing moves, and one line says so, not one per IP. */
		if (out->frozen)
			continue;
		struct pool *zp = find_zone(&pl, f->network_zone);
		if (!zp) {
			plan_skip_add(out, &cap_skipped, f, SKIP_NO_CANDIDATE);
			continue;
		}
		struct job *j = &jobs[n_jobs++];
		j->f = f;
		j->cur = cur;
		j->zone = zp;
		j->loc = find_location(&pl, zp, f->location);
		j->must = why_move(j);
	}
	free(byid);

	canonical_pass(&pl, jobs, n_jobs);
	stay_pass(&pl, jobs, n_jobs);
	spread_pass(&pl, jobs, n_jobs);
	if (opts->rebalance)
		rebalance_pass(&pl, jobs, n_jobs);
	name_pending_returns(&pl, jobs, n_jobs);
	emit(out, jobs, n_jobs);

	free(jobs);
	planner_release(&pl);
}

void plan_release(struct plan *p)
{
	free(p->actions);
	free(p->pending);
	free(p->skipped);
	memset(p, 0, sizeof *p);
}
