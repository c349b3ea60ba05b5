/*
 * dict.c - the keyspace's hash table (dict.h): chained buckets, a power
 * of two of them, doubled when there are as many keys as buckets. FNV-1a
 * hashes; kvd listens on loopback, so no seeded hash against flooding.
 */
#include <stdlib.h>
#include <string.h>

#include "dict.h"

struct entry {
	struct entry *next;
	uint64_t hash;
	struct dict_val *val;
	size_t klen;
	char key[];
};

struct dict {
	struct entry **b;
	size_t nb; /* a power of two */
	size_t n;
};

static uint64_t hash(const char *k, size_t kl)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < kl; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

struct dict *dict_new(void)
{
	struct dict *d = calloc(1, sizeof(*d));

	if (d && !(d->b = calloc(d->nb = 16, sizeof(*d->b)))) {
		free(d);
		return NULL;
	}
	return d;
}

void dict_free(struct dict *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nb; i++)
		for (struct entry *e = d->b[i], *nx; e; e = nx) {
			nx = e->next;
			free(e->val);
			free(e);
		}
	free(d->b);
	free(d);
}

size_t dict_size(const struct dict *d)
{
	return d->n;
}

static struct entry **find(const struct dict *d, const char *k, size_t kl,
			   uint64_t h)
{
	struct entry **p = &d->b[h & (d->nb - 1)];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->klen == kl &&
		    memcmp((*p)->key, k, kl) == 0)
			break;
	return p;
}

struct dict_val *dict_get(const struct dict *d, const char *k, size_t kl)
{
	struct entry *e = *find(d, k, kl, hash(k, kl));

	return e ? e->val : NULL;
}

/* Doubles the buckets; a failure only leaves the chains longer. */
static void grow(struct dict *d)
{
	size_t nb = d->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < d->nb; i++)
		for (struct entry *e = d->b[i], *nx; e; e = nx) {
			nx = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(d->b);
	d->b = b;
	d->nb = nb;
}

static struct dict_val *val_new(const char *v, size_t vl, size_t cap)
{
	struct dict_val *x = malloc(sizeof(*x) + cap);

	if (x) {
		memcpy(x->data, v, vl);
		x->len = vl;
		x->cap = cap;
	}
	return x;
}

/* The entry of key, made with an empty value when missing; NULL out of
 * memory. */
static struct entry *upsert(struct dict *d, const char *k, size_t kl)
{
	uint64_t h = hash(k, kl);
	struct entry **p = find(d, k, kl, h), *e;

	if (*p)
		return *p;
	if (!(e = malloc(sizeof(*e) + kl)))
		return NULL;
	if (!(e->val = val_new("", 0, 0))) {
		free(e);
		return NULL;
	}
	e->hash = h;
	e->klen = kl;
	memcpy(e->key, k, kl);
	e->next = NULL;
	*p = e;
	if (++d->n > d->nb)
		grow(d);
	return e;
}

int dict_set(struct dict *d, const char *k, size_t kl, const char *v,
	     size_t vl)
{
	struct dict_val *x = val_new(v, vl, vl);
	struct entry *e;

	if (!x || !(e = upsert(d, k, kl))) {
		free(x);
		return -1;
	}
	free(e->val);
	e->val = x;
	return 0;
}

long long dict_append(struct dict *d, const char *k, size_t kl,
		      const char *v, size_t vl)
{
	struct entry *e = upsert(d, k, kl);
	struct dict_val *x;

	if (!e)
		return -1;
	x = e->val;
	if (x->len + vl > x->cap) {
		size_t cap = (x->len + vl) * 2;
		struct dict_val *y = realloc(x, sizeof(*y) + cap);

		if (!y)
			return -1;
		y->cap = cap;
		e->val = x = y;
	}
	memcpy(x->data + x->len, v, vl);
	x->len += vl;
	return (long long)x->len;
}

int dict_del(struct dict *d, const char *k, size_t kl)
{
	struct entry **p = find(d, k, kl, hash(k, kl)), *e = *p;

	if (!e)
		return 0;
	*p = e->next;
	free(e->val);
	free(e);
	d->n--;
	return 1;
}

struct dict *dict_copy(const struct dict *d)
{
	struct dict *c = calloc(1, sizeof(*c));

	if (!c || !(c->b = calloc(c->nb = d->nb, sizeof(*c->b)))) {
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < d->nb; i++)
		for (const struct entry *e = d->b[i]; e; e = e->next) {
			struct entry *x = malloc(sizeof(*x) + e->klen);

			if (!x || !(x->val = val_new(e->val->data, e->val->len,
						     e->val->len))) {
				free(x);
				dict_free(c);
				return NULL;
			}
			x->hash = e->hash;
			x->klen = e->klen;
			memcpy(x->key, e->key, e->klen);
			x->next = c->b[i];
			c->b[i] = x;
			c->n++;
		}
	return c;
}
