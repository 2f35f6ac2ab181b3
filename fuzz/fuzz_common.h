/*
 * fuzz/fuzz_common.h - what every fuzz target shares: the entry points, a
 * reader that takes typed values off the front of the input (zeros once it
 * runs dry, so every input decodes), the check that turns a broken invariant
 * into a crash the fuzzer records, and private temporary directories.
 *
 * Targets are plain C11 programs linked with libFuzzer; nothing here is part
 * of the library.
 */
#ifndef GHOST_FUZZ_COMMON_H
#define GHOST_FUZZ_COMMON_H

#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/topology.h>

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- the input ---- */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline size_t fz_left(const struct fz *in)
{
	return in->n;
}

static inline uint8_t fz_u8(struct fz *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz *in)
{
	return (uint16_t)(fz_u8(in) | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz *in)
{
	return (uint32_t)fz_u16(in) | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz *in)
{
	return (uint64_t)fz_u32(in) | (uint64_t)fz_u32(in) << 32;
}

/* Copies up to len bytes into out, zero-filling what the input no longer has. */
static inline void fz_fill(struct fz *in, void *out, size_t len)
{
	size_t have = len < in->n ? len : in->n;

	memcpy(out, in->p, have);
	memset((char *)out + have, 0, len - have);
	in->p += have;
	in->n -= have;
}

/*
 * The next chunk of at most max bytes, up to (not including) the next byte
 * equal to sep or the end of the input; the separator is consumed. *len
 * gets the chunk's length.
 */
static inline const uint8_t *fz_chunk(struct fz *in, uint8_t sep, size_t max, size_t *len)
{
	const uint8_t *start = in->p;
	size_t n = 0;

	while (n < in->n && n < max && in->p[n] != sep)
		n++;
	*len = n;
	in->p += n;
	in->n -= n;
	if (in->n && in->p[0] == sep) {
		in->p++;
		in->n--;
	}
	return start;
}

/*
 * A NUL-terminated heap copy of len bytes, allocated to exactly len + 1
 * bytes so that the sanitizer sees any read past the terminator.
 */
static inline char *fz_strndup(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* ---- broken invariants ---- */

__attribute__((format(printf, 4, 5), noreturn)) static inline void fz_fail(const char *file,
									   int line,
									   const char *cond,
									   const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nINVARIANT BROKEN at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The condition, then a printf-style explanation (at least a format string). */
#define FZ_CHECK(cond, ...)                                              \
	do {                                                             \
		if (!(cond))                                             \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

/*
 * GHOST_FUZZ_SKIP: a comma-separated list of checks to leave out while a
 * defect they keep hitting awaits its fix (each target names its own; see
 * docs/design.md). Empty by default: nothing is skipped.
 */
static inline bool fz_skip(const char *name)
{
	const char *list = getenv("GHOST_FUZZ_SKIP");
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && !strncmp(p, name, len))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* ---- the library's log ---- */

/*
 * Every message is formatted (the callback only drops it), so a format
 * string fed a bad argument by some odd input is exercised too.
 */
static inline void fz_log_drop(enum ghost_log_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	if (getenv("GHOST_FUZZ_LOG"))
		fprintf(stderr, "libghost: %s\n", msg);
}

static inline void fz_log_init(void)
{
	ghost_log_set_callback(fz_log_drop, NULL, GHOST_LOG_DEBUG);
}

/* ---- temporary directories ---- */

static inline int fz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes path and everything under it. */
static inline void fz_rm_tree(const char *path)
{
	nftw(path, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Empties directory path, keeping it. */
static inline void fz_empty_dir(const char *path)
{
	fz_rm_tree(path);
	mkdir(path, 0700);
}

/*
 * A fresh directory "<dir>/<prefix>-XXXXXX" in buf, dir being $TMPDIR, else
 * /dev/shm (memory: these files churn), else /tmp; aborts if it cannot.
 */
static inline void fz_mkdtemp(char *buf, size_t len, const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	n = snprintf(buf, len, "%s/%s-XXXXXX", tmp, prefix);
	if (n < 0 || (size_t)n >= len || !mkdtemp(buf)) {
		fprintf(stderr, "fuzz: cannot make a directory under %s: %s\n", tmp,
			strerror(errno));
		abort();
	}
}

/* A set-up step every input relies on failed: no input can be judged. */
static inline void fz_die(const char *what, int err)
{
	fprintf(stderr, "fuzz set-up: %s: %s\n", what, ghost_strerror(err));
	abort();
}

/* The machine's first four CPUs (fewer on a smaller machine). */
static inline struct ghost_cpuset fz_some_cpus(void)
{
	struct ghost_topo *topo;
	struct ghost_cpuset cpus;
	int cpu, n = 0, err;

	if ((err = ghost_topo_from_machine(&topo)))
		fz_die("topology", err);
	cpus = *ghost_topo_cpus(topo);
	ghost_topo_free(topo);
	ghost_cpuset_for_each(cpu, &cpus)
		if (++n > 4)
			ghost_cpuset_clear(&cpus, cpu);
	return cpus;
}

#endif
