/*
 * planner.c — the deterministic planner (SPEC section 5).
 *
 * Shape of the computation, all O((servers + IPs) log):
 *   1. candidates sorted once into candidate order; their index in that
 *      order is their rank, the final tie-breaker everywhere;
 *   2. candidates grouped into pools: one per (network zone, location)
 *      and one per network zone, found by binary search;
 *   3. canonical pass: binary search for (location, resource_index)
 *      inside the IP's location pool;
 *   4. spread pass: a min-heap per pool keyed by (count, rank). A
 *      candidate's count changes through either of its two pools, so the
 *      other pool's heap keeps a stale entry; stale entries are dropped
 *      when they reach the top (an entry is valid when its count equals
 *      the candidate's current count).
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
	[REASON_TARGET_UNHEALTHY] = "target_unhealthy",
	[REASON_CANONICAL] = "canonical",
	[REASON_REBALANCE] = "rebalance",
};

static const char *const skip_names[] = {
	[SKIP_FOREIGN_TARGET] = "foreign_target",
	[SKIP_NO_CANDIDATE] = "no_candidate",
};

const char *health_name(enum health h)
{
	if ((size_t)h < ARRAY_SIZE(health_names))
		return health_names[h];
	return "invalid";
}

int health_parse(const char *s, enum health *out)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(health_names); i++) {
		if (strcmp(s, health_names[i]) == 0) {
			*out = (enum health)i;
			return 0;
		}
	}
	return -1;
}

const char *plan_reason_name(enum plan_reason r)
{
	if ((size_t)r < ARRAY_SIZE(reason_names))
		return reason_names[r];
	return "invalid";
}

const char *plan_skip_name(enum plan_skip_reason r)
{
	if ((size_t)r < ARRAY_SIZE(skip_names))
		return skip_names[r];
	return "invalid";
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
 * Candidate order: location, resource_index, name, id. Zone and status
 * only break ties between entries that share an id (the caller's
 * mistake), so even that input gives one answer.
 */
static int cmp_candidate_order(const void *pa, const void *pb)
{
	const struct plan_server *a = *(const struct plan_server *const *)pa;
	const struct plan_server *b = *(const struct plan_server *const *)pb;
	int c;

	if ((c = cmp_str(a->location, b->location)) ||
	    (c = cmp_index(a->has_index, a->resource_index,
			   b->has_index, b->resource_index)) ||
	    (c = cmp_str(a->name, b->name)) ||
	    (c = cmp_i64(a->id, b->id)) ||
	    (c = cmp_str(a->network_zone, b->network_zone)))
		return c;
	return cmp_i64(a->status, b->status);
}

/* Floating IPs by id; the rest only orders duplicate ids. */
static int cmp_fip(const void *pa, const void *pb)
{
	const struct plan_fip *a = *(const struct plan_fip *const *)pa;
	const struct plan_fip *b = *(const struct plan_fip *const *)pb;
	int c;

	if ((c = cmp_i64(a->id, b->id)) ||
	    (c = cmp_i64(a->server, b->server)) ||
	    (c = cmp_str(a->network_zone, b->network_zone)) ||
	    (c = cmp_str(a->location, b->location)) ||
	    (c = cmp_index(a->has_index, a->resource_index,
			   b->has_index, b->resource_index)) ||
	    (c = cmp_str(a->name, b->name)))
		return c;
	return cmp_str(a->ip, b->ip);
}

static int cmp_id(const void *pa, const void *pb)
{
	return cmp_i64(*(const int64_t *)pa, *(const int64_t *)pb);
}

static bool id_in(const int64_t *ids, size_t n, int64_t id)
{
	return bsearch(&id, ids, n, sizeof *ids, cmp_id) != NULL;
}

/* A min-heap of (count, rank): the least-loaded candidate, first in order. */
struct hent {
	size_t count;
	size_t c;                    /* candidate rank */
};

struct heap {
	struct hent *a;
	size_t n, cap;
};

static bool hent_less(struct hent x, struct hent y)
{
	return x.count < y.count || (x.count == y.count && x.c < y.c);
}

static void heap_sift_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && hent_less(h->a[l], h->a[m]))
			m = l;
		if (r < h->n && hent_less(h->a[r], h->a[m]))
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
		if (!hent_less(e, h->a[p]))
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

static void heap_build(struct heap *h)
{
	for (size_t i = h->n / 2; i-- > 0;)
		heap_sift_down(h, i);
}

struct cand {
	const struct plan_server *s;
	size_t rank;                 /* its index in candidate order */
	size_t loc, zone;            /* its pools */
	size_t count;                /* IPs assigned to it so far in this plan */
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
	struct heap heap;
};

struct planner {
	struct cand *cands;          /* in candidate order */
	size_t n_cands;
	struct cand **bypool;
	struct pool *locs, *zones;
	size_t n_locs, n_zones;
	int64_t *members;            /* every server id, sorted */
	size_t n_members;
	int64_t *cand_ids;           /* candidate ids, sorted */
};

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

static void planner_init(struct planner *pl, const struct plan_server *servers,
			 size_t n_servers, bool *fail_open)
{
	size_t n_healthy = 0;
	for (size_t i = 0; i < n_servers; i++)
		if (servers[i].status == HEALTH_HEALTHY)
			n_healthy++;
	*fail_open = n_servers > 0 && n_healthy == 0;

	pl->members = xmalloc(n_servers * sizeof *pl->members);
	for (size_t i = 0; i < n_servers; i++)
		pl->members[i] = servers[i].id;
	qsort(pl->members, n_servers, sizeof *pl->members, cmp_id);
	pl->n_members = n_servers;

	const struct plan_server **order = xmalloc(n_servers * sizeof *order);
	size_t n = 0;
	for (size_t i = 0; i < n_servers; i++)
		if (*fail_open || servers[i].status == HEALTH_HEALTHY)
			order[n++] = &servers[i];
	qsort(order, n, sizeof *order, cmp_candidate_order);

	pl->n_cands = n;
	pl->cands = xcalloc(n, sizeof *pl->cands);
	pl->bypool = xmalloc(n * sizeof *pl->bypool);
	pl->cand_ids = xmalloc(n * sizeof *pl->cand_ids);
	for (size_t i = 0; i < n; i++) {
		pl->cands[i].s = order[i];
		pl->cands[i].rank = i;
		pl->bypool[i] = &pl->cands[i];
		pl->cand_ids[i] = order[i]->id;
	}
	free(order);
	qsort(pl->cand_ids, n, sizeof *pl->cand_ids, cmp_id);
	qsort(pl->bypool, n, sizeof *pl->bypool, cmp_bypool);

	size_t cap_locs = 0, cap_zones = 0;
	for (size_t i = 0; i < n; i++) {
		const struct plan_server *s = pl->bypool[i]->s;
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
		pl->zones[pl->n_zones - 1].n++;
		pl->locs[pl->n_locs - 1].n++;
		pl->bypool[i]->zone = pl->n_zones - 1;
		pl->bypool[i]->loc = pl->n_locs - 1;
	}
}

static void planner_release(struct planner *pl)
{
	for (size_t i = 0; i < pl->n_locs; i++)
		free(pl->locs[i].heap.a);
	for (size_t i = 0; i < pl->n_zones; i++)
		free(pl->zones[i].heap.a);
	free(pl->cands);
	free(pl->bypool);
	free(pl->locs);
	free(pl->zones);
	free(pl->members);
	free(pl->cand_ids);
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

static void pool_heap_build(struct planner *pl, struct pool *p)
{
	p->heap.a = xgrow(p->heap.a, &p->heap.cap, p->n, sizeof *p->heap.a);
	for (size_t i = 0; i < p->n; i++) {
		const struct cand *c = pl->bypool[p->first + i];
		p->heap.a[i] = (struct hent){ c->count, c->rank };
	}
	p->heap.n = p->n;
	heap_build(&p->heap);
}

/*
 * Give one IP to the least-loaded member of pool p (from_zone: p is a
 * zone pool) and account for it in both pools of the chosen candidate.
 */
static struct cand *pool_take(struct planner *pl, struct pool *p, bool from_zone)
{
	struct heap *h = &p->heap;
	while (h->n > 0 && h->a[0].count != pl->cands[h->a[0].c].count)
		heap_pop(h);
	if (h->n == 0)
		return NULL;     /* cannot happen: each member keeps one valid entry */
	struct cand *c = &pl->cands[h->a[0].c];
	c->count++;
	h->a[0].count = c->count;
	heap_sift_down(h, 0);
	struct pool *other = from_zone ? &pl->locs[c->loc] : &pl->zones[c->zone];
	heap_push(&other->heap, (struct hent){ c->count, c->rank });
	return c;
}

/* One floating IP on its way through the passes. */
struct job {
	const struct plan_fip *f;
	struct pool *zone, *loc;     /* loc may be NULL */
	struct cand *to;
	bool canonical;
};

static enum plan_reason action_reason(const struct planner *pl, const struct job *j)
{
	if (j->f->server == 0)
		return REASON_UNASSIGNED;
	if (!id_in(pl->cand_ids, pl->n_cands, j->f->server))
		return REASON_TARGET_UNHEALTHY;
	if (j->canonical)
		return REASON_CANONICAL;
	return REASON_REBALANCE;
}

static void plan_skip_add(struct plan *out, size_t *cap, const struct plan_fip *f,
			  enum plan_skip_reason why)
{
	out->skipped = xgrow(out->skipped, cap, out->n_skipped + 1, sizeof *out->skipped);
	out->skipped[out->n_skipped++] = (struct plan_skip){ f->id, f->server, why };
}

void plan_compute(const struct plan_server *servers, size_t n_servers,
		  const struct plan_fip *fips, size_t n_fips, struct plan *out)
{
	struct planner pl = { 0 };
	size_t cap_skipped = 0, cap_actions = 0, n_jobs = 0;

	memset(out, 0, sizeof *out);
	planner_init(&pl, servers, n_servers, &out->fail_open);
	out->n_candidates = pl.n_cands;

	const struct plan_fip **byid = xmalloc(n_fips * sizeof *byid);
	for (size_t i = 0; i < n_fips; i++)
		byid[i] = &fips[i];
	qsort(byid, n_fips, sizeof *byid, cmp_fip);

	/* Which IPs are ours to move; skipped ones are reported in id order. */
	struct job *jobs = xcalloc(n_fips, sizeof *jobs);
	for (size_t i = 0; i < n_fips; i++) {
		const struct plan_fip *f = byid[i];
		if (f->server != 0 && !id_in(pl.members, pl.n_members, f->server)) {
			plan_skip_add(out, &cap_skipped, f, SKIP_FOREIGN_TARGET);
			continue;
		}
		struct pool *zp = find_zone(&pl, f->network_zone);
		if (!zp) {
			plan_skip_add(out, &cap_skipped, f, SKIP_NO_CANDIDATE);
			continue;
		}
		struct job *j = &jobs[n_jobs++];
		j->f = f;
		j->zone = zp;
		j->loc = find_location(&pl, zp, f->location);
	}
	free(byid);

	/* Canonical pass: resource_index matches, before any spreading. */
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (!j->f->has_index || !j->loc)
			continue;
		j->to = find_canonical(&pl, j->loc, j->f->resource_index);
		if (j->to) {
			j->to->count++;
			j->canonical = true;
		}
	}

	/* Spread pass: heaps start from the counts the canonical pass left. */
	for (size_t i = 0; i < pl.n_locs; i++)
		pool_heap_build(&pl, &pl.locs[i]);
	for (size_t i = 0; i < pl.n_zones; i++)
		pool_heap_build(&pl, &pl.zones[i]);
	for (size_t i = 0; i < n_jobs; i++) {
		struct job *j = &jobs[i];
		if (!j->to)
			j->to = j->loc ? pool_take(&pl, j->loc, false)
				       : pool_take(&pl, j->zone, true);
	}

	/* What is already in place is not an action. */
	for (size_t i = 0; i < n_jobs; i++) {
		const struct job *j = &jobs[i];
		if (!j->to || j->to->s->id == j->f->server)
			continue;
		out->actions = xgrow(out->actions, &cap_actions, out->n_actions + 1,
				     sizeof *out->actions);
		out->actions[out->n_actions++] = (struct plan_action){
			.fip = j->f->id,
			.from = j->f->server,
			.to = j->to->s->id,
			.reason = action_reason(&pl, j),
		};
	}

	free(jobs);
	planner_release(&pl);
}

void plan_release(struct plan *p)
{
	free(p->actions);
	free(p->skipped);
	memset(p, 0, sizeof *p);
}
