/*
 * tests/test.h - the assertions every test program uses.
 *
 * Each test is a standalone program: exit 0 = pass, 1 = fail, 77 = skip.
 * A failed check prints where and why, then exits 1 at once; nothing here
 * ever turns a failure into a pass.
 */
#ifndef GHOST_TEST_H
#define GHOST_TEST_H

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77

#define FAIL(...)                                                    \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fputc('\n', stderr);                                 \
		exit(1);                                             \
	} while (0)

#define CHECK(cond)                                      \
	do {                                             \
		if (!(cond))                             \
			FAIL("check failed: %s", #cond); \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                  \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "FAIL %s:%d: check failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                       \
			fprintf(stderr, __VA_ARGS__);                                         \
			fputc('\n', stderr);                                                  \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                  \
	do {                                                            \
		long long _a = (long long)(a), _b = (long long)(b);     \
		if (_a != _b)                                           \
			FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); \
	} while (0)

#define CHECK_NE(a, b)                                              \
	do {                                                        \
		long long _a = (long long)(a), _b = (long long)(b); \
		if (_a == _b)                                       \
			FAIL("%s != %s: both %lld", #a, #b, _a);    \
	} while (0)

#define CHECK_STR(a, b)                                                                \
	do {                                                                           \
		const char *_a = (a), *_b = (b);                                       \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                 \
			FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", \
			     _b ? _b : "(null)");                                      \
	} while (0)

/* A call that must succeed: 0 or a non-negative count. */
#define CHECK_OK(expr)                                                               \
	do {                                                                         \
		long long _r = (long long)(expr);                                    \
		if (_r < 0)                                                          \
			FAIL("%s failed: %lld (%s)", #expr, _r, strerror((int)-_r)); \
	} while (0)

/* A call that must fail with exactly -err. */
#define CHECK_ERR(expr, err)                                                             \
	do {                                                                             \
		long long _r = (long long)(expr);                                        \
		if (_r != -(long long)(err))                                             \
			FAIL("%s: expected -%s (%d), got %lld", #expr, #err, (err), _r); \
	} while (0)

/* Removes a directory tree the test made (temp enclave roots, fake sysfs). */
#include <ftw.h>
#include <stdio.h>
static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}
static inline int test_rm_tree(const char *dir)
{
	return nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
