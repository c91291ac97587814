/* t-rp: looking chunk ids up in a sorted array, at random and in order. */
#include <stdint.h>
#include <stdlib.h>

#include "rp.h"
#include "tap.h"

static uint64_t seed = 11;

static uint32_t
rnd(uint32_t n)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((seed >> 33) % n);
}

/* The index of ID in IDS[0..N) the slow way, or -1. */
static long
linear(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return (long)i;
	return -1;
}

/*
 * Lookups of every id from LO to HI (some in IDS, most not) in
 * ascending order with one *FROM, as a run does, one at random with
 * another *FROM, and one by rp_find_id, against a linear search; the
 * number that differ.
 */
static int
runs(const int64_t *ids, size_t n, int64_t lo, int64_t hi)
{
	size_t from = SIZE_MAX, from2 = SIZE_MAX;
	int wrong = 0;

	for (int64_t id = lo; id <= hi; id++) {
		int64_t any = lo + (int64_t)rnd((uint32_t)(hi - lo + 1));

		wrong += rp_find_id_from(ids, n, id, &from) !=
		    linear(ids, n, id);
		wrong += rp_find_id_from(ids, n, any, &from2) !=
		    linear(ids, n, any);
		wrong += rp_find_id(ids, n, any) != linear(ids, n, any);
	}
	return wrong;
}

int
main(void)
{
	static int64_t ids[5000];
	int64_t one = 42, far[] = { INT64_MIN, -5, 0, 7, INT64_MAX };
	size_t n = 0, from;
	int wrong = 0;

	/* Ids with gaps of 1 to 40, some runs dense. */
	for (int64_t id = 3; n < 5000; id += 1 + (rnd(4) == 0 ? rnd(40) : 0))
		ids[n++] = id;
	is_int(runs(ids, n, 0, ids[n - 1] + 10), 0, "ascending and random "
	    "lookups as a linear search, in and around 5,000 ids");
	for (size_t m = 0; m < 5; m++)
		wrong += runs(ids, m, 0, 20);
	is_int(wrong, 0, "arrays of 0 to 4 ids: as a linear search");
	from = SIZE_MAX;
	ok(rp_find_id_from(&one, 1, 42, &from) == 0 && from == 0,
	    "found; *FROM moves to it");
	ok(rp_find_id_from(&one, 1, 41, &from) == -1,
	    "an id before *FROM: searched from the start, not there");
	from = 7;
	ok(rp_find_id_from(ids, 0, 3, &from) == -1, "nothing in no ids");
	from = SIZE_MAX;
	wrong = 0;
	for (size_t i = 0; i < 5; i++)
		wrong += rp_find_id_from(far, 5, far[i], &from) != (long)i;
	from = 0;
	wrong += rp_find_id_from(far, 5, INT64_MAX - 1, &from) != -1;
	is_int(wrong, 0, "ids at both ends of int64, in order");
	return tap_done();
}
