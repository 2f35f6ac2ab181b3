/*
 * ghost/cpuset.h - fixed-size CPU bitmaps, their text forms, and an atomic variant.
 *
 * Owns the bitmap type every other module uses to name groups of CPUs, and the two text
 * forms the kernel speaks (the "0-3,8" list and the "0000001e" hex mask). It knows nothing
 * about the machine: bounds come from the caller. It must never allocate, block or log.
 */
#ifndef GHOST_CPUSET_H
#define GHOST_CPUSET_H

#include <errno.h>

#include <ghost/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GHOST_CPUSET_WORDS (GHOST_MAX_CPUS / 64)

/*
 * A buffer this large always holds ghost_cpuset_format_list() output: at most 256 elements
 * (each needs a hole after it) of at most 8 bytes ("100-101,"), the last comma becoming NUL.
 */
#define GHOST_CPUSET_LIST_MAX 2048

/* Likewise for ghost_cpuset_format_mask(): 16 groups of "xxxxxxxx," with the last ',' a NUL. */
#define GHOST_CPUSET_MASK_MAX ((GHOST_MAX_CPUS / 32) * 9)

/* Bit n of bits[n / 64] is CPU n. Plain data: copy it, compare it, keep it on the stack. */
struct ghost_cpuset {
	uint64_t bits[GHOST_CPUSET_WORDS];
};

/*
 * The functions below are inline because agents call them in their scheduling loop, where
 * a call into the shared library per bit would cost more than the work itself. They take
 * valid pointers; only CPU numbers are checked, since those often come from the kernel.
 */

static inline void ghost_cpuset_zero(struct ghost_cpuset *s)
{
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		s->bits[i] = 0;
}

/* 0, or -EINVAL (and no change) when cpu is outside [0, GHOST_MAX_CPUS). */
static inline int ghost_cpuset_set(struct ghost_cpuset *s, int cpu)
{
	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return -EINVAL;
	s->bits[cpu / 64] |= 1ULL << (cpu % 64);
	return 0;
}

static inline int ghost_cpuset_clear(struct ghost_cpuset *s, int cpu)
{
	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return -EINVAL;
	s->bits[cpu / 64] &= ~(1ULL << (cpu % 64));
	return 0;
}

/* A CPU outside [0, GHOST_MAX_CPUS) is simply not a member. */
static inline bool ghost_cpuset_test(const struct ghost_cpuset *s, int cpu)
{
	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return false;
	return (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

static inline int ghost_cpuset_count(const struct ghost_cpuset *s)
{
	int n = 0;

	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		n += __builtin_popcountll(s->bits[i]);
	return n;
}

static inline bool ghost_cpuset_empty(const struct ghost_cpuset *s)
{
	uint64_t any = 0;

	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		any |= s->bits[i];
	return any == 0;
}

static inline bool ghost_cpuset_equal(const struct ghost_cpuset *a, const struct ghost_cpuset *b)
{
	uint64_t diff = 0;

	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		diff |= a->bits[i] ^ b->bits[i];
	return diff == 0;
}

/* The first CPU after `cpu` (any cpu < 0 starts from the beginning), or -1 if none. */
static inline int ghost_cpuset_next(const struct ghost_cpuset *s, int cpu)
{
	int start, word;
	uint64_t w;

	/* Checked before the + 1 so that cpu == INT_MAX cannot overflow. */
	if (cpu >= GHOST_MAX_CPUS - 1)
		return -1;
	start = cpu < 0 ? 0 : cpu + 1;
	word = start / 64;
	w = s->bits[word] & (~0ULL << (start % 64));
	for (;;) {
		if (w)
			return word * 64 + __builtin_ctzll(w);
		if (++word == GHOST_CPUSET_WORDS)
			return -1;
		w = s->bits[word];
	}
}

/* The lowest CPU, or -1 if the set is empty. */
static inline int ghost_cpuset_first(const struct ghost_cpuset *s)
{
	return ghost_cpuset_next(s, -1);
}

/*
 * Visits every member in ascending order; `cpu` is an int lvalue of the caller's. The set may
 * be changed inside the body: members above the current one are seen as they are then.
 */
#define ghost_cpuset_for_each(cpu, s) \
	for ((cpu) = ghost_cpuset_first(s); (cpu) >= 0; (cpu) = ghost_cpuset_next((s), (cpu)))

/* dst may be the same object as a or b in the three operations below. */
static inline void ghost_cpuset_or(struct ghost_cpuset *dst, const struct ghost_cpuset *a,
				   const struct ghost_cpuset *b)
{
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		dst->bits[i] = a->bits[i] | b->bits[i];
}

static inline void ghost_cpuset_and(struct ghost_cpuset *dst, const struct ghost_cpuset *a,
				    const struct ghost_cpuset *b)
{
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		dst->bits[i] = a->bits[i] & b->bits[i];
}

/* dst = a minus b. */
static inline void ghost_cpuset_andnot(struct ghost_cpuset *dst, const struct ghost_cpuset *a,
				       const struct ghost_cpuset *b)
{
	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		dst->bits[i] = a->bits[i] & ~b->bits[i];
}

/* True when every member of a is in b (the empty set is a subset of everything). */
static inline bool ghost_cpuset_is_subset(const struct ghost_cpuset *a,
					  const struct ghost_cpuset *b)
{
	uint64_t extra = 0;

	for (int i = 0; i < GHOST_CPUSET_WORDS; i++)
		extra |= a->bits[i] & ~b->bits[i];
	return extra == 0;
}

/* Makes s exactly CPUs 0..ncpus-1. -EINVAL (s unchanged) unless 0 <= ncpus <= GHOST_MAX_CPUS. */
GHOST_API int ghost_cpuset_fill(struct ghost_cpuset *s, int ncpus);

/* The n-th member in ascending order, counting from 0; -1 if n < 0 or the set is smaller. */
GHOST_API int ghost_cpuset_nth(const struct ghost_cpuset *s, int n);

/* ghost_cpuset_parse_list() flag: "" (or only whitespace) is the empty set, not an error. */
#define GHOST_CPUSET_ALLOW_EMPTY (1u << 0)

/*
 * Parses the kernel's list form, "0-3,8,10-11": decimal CPU numbers and ascending ranges,
 * comma-separated, in any order, overlaps allowed; surrounding whitespace (a trailing newline
 * from sysfs) is ignored. ncpus (0..GHOST_MAX_CPUS) is how many CPUs the caller's machine has;
 * pass GHOST_MAX_CPUS to be bounded only by the bitmap. Returns 0, -ERANGE for a CPU >= ncpus,
 * or -EINVAL for anything malformed (including an empty list, unless GHOST_CPUSET_ALLOW_EMPTY)
 * or bad arguments. On error *out is unchanged.
 *
 * The _ex variant also writes a one-sentence reason naming the offending token into why (if
 * why is not NULL and why_len > 0; truncated to fit; "" on success), for error messages that
 * tell a user what to fix.
 */
GHOST_API int ghost_cpuset_parse_list(struct ghost_cpuset *out, const char *text, int ncpus,
				      unsigned int flags);
GHOST_API int ghost_cpuset_parse_list_ex(struct ghost_cpuset *out, const char *text, int ncpus,
					 unsigned int flags, char *why, size_t why_len);

/*
 * Writes the canonical list form (ascending, maximal ranges, any run of two or more CPUs as
 * "a-b"; "" for the empty set). Returns the string length, or -ENOSPC if it does not fit in
 * len bytes: buf then holds the whole elements that did fit (possibly ""), still terminated.
 * GHOST_CPUSET_LIST_MAX bytes are always enough.
 */
GHOST_API int ghost_cpuset_format_list(const struct ghost_cpuset *s, char *buf, size_t len);

/*
 * The hex mask form of the enclave's cpumask file: ceil(ncpus / 32) groups (at least one) of
 * eight lowercase hex digits, most significant first, comma-separated: CPUs 1-4 with ncpus 64
 * are "00000000,0000001e". Returns the length, -ERANGE if s has a CPU >= ncpus, -ENOSPC if it
 * does not fit (buf is then ""), -EINVAL for ncpus outside 0..GHOST_MAX_CPUS.
 */
GHOST_API int ghost_cpuset_format_mask(const struct ghost_cpuset *s, int ncpus, char *buf,
				       size_t len);

/*
 * Parses a hex mask: an optional "0x", then hex digits in either case. Commas are optional,
 * but where present they split 32-bit groups, so every group must have 1 to 8 digits:
 * "1e", "0000001e" and "0,1e" all mean CPUs 1-4, while "1,0" means CPU 32. Surrounding
 * whitespace is ignored. Returns 0, -ERANGE if a CPU >= ncpus is set, -EINVAL for bad
 * characters, empty text or groups, or bad arguments. On error *out is unchanged.
 */
GHOST_API int ghost_cpuset_parse_mask(struct ghost_cpuset *out, const char *text, int ncpus);

/*
 * A CPU set that several threads update without a lock, e.g. an "idle CPUs" set that CPUs
 * join and leave. Zero-initialise it ({ 0 } or memset) before sharing it.
 */
struct ghost_atomic_cpuset {
	uint64_t bits[GHOST_CPUSET_WORDS];
};

/*
 * Set and clear return the bit's previous value (0 or 1), which makes them usable as
 * claim/release, or -EINVAL for a CPU outside [0, GHOST_MAX_CPUS). They are acq_rel: the
 * release half publishes the caller's earlier writes to whoever later observes the change
 * with an acquire, and the acquire half shows the caller what the previous changer published
 * (so a thread that claims a bit sees the state left by the thread that released it).
 * Inline for the same reason as the plain set's operations.
 */
static inline int ghost_atomic_cpuset_set(struct ghost_atomic_cpuset *s, int cpu)
{
	uint64_t bit, old;

	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return -EINVAL;
	bit = 1ULL << (cpu % 64);
	old = __atomic_fetch_or(&s->bits[cpu / 64], bit, __ATOMIC_ACQ_REL);
	return (old & bit) != 0;
}

static inline int ghost_atomic_cpuset_clear(struct ghost_atomic_cpuset *s, int cpu)
{
	uint64_t bit, old;

	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return -EINVAL;
	bit = 1ULL << (cpu % 64);
	old = __atomic_fetch_and(&s->bits[cpu / 64], ~bit, __ATOMIC_ACQ_REL);
	return (old & bit) != 0;
}

/* Acquire, so a true result also shows what the setter wrote before setting the bit. */
static inline bool ghost_atomic_cpuset_test(const struct ghost_atomic_cpuset *s, int cpu)
{
	if ((unsigned int)cpu >= GHOST_MAX_CPUS)
		return false;
	return (__atomic_load_n(&s->bits[cpu / 64], __ATOMIC_ACQUIRE) >> (cpu % 64)) & 1;
}

/*
 * Copies s into a plain set. Each 64-CPU word is read atomically (acquire), but the words
 * are read one after another, so with concurrent writers the copy is not one instant's state.
 */
GHOST_API void ghost_atomic_cpuset_snapshot(const struct ghost_atomic_cpuset *s,
					    struct ghost_cpuset *out);

#ifdef __cplusplus
}
#endif

#endif
