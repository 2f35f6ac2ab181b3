/*
 * interpose/stdio.c - the C library's streams: their reads and writes reach the descriptor
 * through the library's own internal calls, which no wrapper of read and write sees. A
 * stream call that will go to its descriptor and wait there is bracketed like any other
 * blocking call (wrap.c); one the stream's buffer serves is not even looked at twice.
 *
 * An input call may wait only when its buffer is empty and the descriptor has nothing; an
 * output call only when what it adds may not fit the buffer (or the stream is line-buffered
 * or unbuffered) and the descriptor is full. The buffer pointers are read without the
 * stream's lock: a thread that races with another on one stream at worst brackets a call that
 * did not wait, or leaves one that did to the kernel's own view (the same accepted race as
 * for descriptors). Never changes errno; never calls anything but the C library.
 */
#include "preload.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The C library's entry points that its headers do not declare (macros and fortified forms
 * reach them). */
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __uflow(FILE *f);
int __underflow(FILE *f);
int __overflow(FILE *f, int c);
ssize_t __getdelim(char **line, size_t *n, int delim, FILE *f);

REAL_DECL(__uflow);
REAL_DECL(__underflow);
REAL_DECL(__overflow);
REAL_DECL(fread);
REAL_DECL(fread_unlocked);
REAL_DECL(fgets);
REAL_DECL(fgets_unlocked);
REAL_DECL(getline);
REAL_DECL(getdelim);
REAL_DECL(__getdelim);
REAL_DECL(fgetc);
REAL_DECL(getc);
REAL_DECL(getc_unlocked);
REAL_DECL(fgetc_unlocked);
REAL_DECL(getchar);
REAL_DECL(fwrite);
REAL_DECL(fwrite_unlocked);
REAL_DECL(fputs);
REAL_DECL(fputs_unlocked);
REAL_DECL(puts);
REAL_DECL(fputc);
REAL_DECL(putc);
REAL_DECL(putc_unlocked);
REAL_DECL(fputc_unlocked);
REAL_DECL(putchar);
REAL_DECL(fflush);
REAL_DECL(fflush_unlocked);
REAL_DECL(fclose);
REAL_DECL(vfprintf);
/* Its address is taken, which the compiler's built-in of the same name refuses. */
static int (*real___vfprintf_chk)(FILE *, int, const char *, va_list);

/* The stream flags of glibc's FILE (its libio.h, not installed): a stream that writes at
 * every newline, or at once. */
#ifndef _IO_UNBUFFERED
#define _IO_UNBUFFERED 0x0002
#endif
#ifndef _IO_LINE_BUF
#define _IO_LINE_BUF 0x0200
#endif

/*
 * Would a read of need bytes from f (or of a line ending in delim, if delim >= 0) go to its
 * descriptor and wait there? Not if the buffer holds them. A call that takes what it finds
 * (need 1: getc) waits only if the descriptor has nothing; one that must fill a count or find
 * a delimiter (fread, fgets, getline) may wait on a pipe or socket even when some bytes are
 * there, so it is bracketed whenever the descriptor is one that blocks.
 */
static bool in_would_block(FILE *f, size_t need, int delim)
{
	size_t avail;
	int fd;

	if (!f)
		return false;
	avail = f->_IO_read_ptr < f->_IO_read_end ? (size_t)(f->_IO_read_end - f->_IO_read_ptr) : 0;
	if (delim >= 0 ? avail && memchr(f->_IO_read_ptr, delim, avail) != NULL : avail >= need)
		return false;
	fd = fileno(f);
	if (fd < 0)
		return false;
	return need <= 1 && delim < 0 ? gp_fd_would_block(fd, POLLIN) : gp_fd_may_block(fd);
}

/*
 * Would writing len more bytes to f (len 0: a formatted write of unknown length) go to its
 * descriptor and wait there? Not if they fit a fully buffered stream's buffer; else the
 * stream writes out a buffer or more, which waits on a pipe or socket with too little room
 * even when a poll finds some: bracketed whenever the descriptor is one that blocks.
 */
#define UNKNOWN_LEN 1024
static bool out_would_block(FILE *f, size_t len)
{
	if (!f)
		return false;
	if (!(f->_flags & (_IO_LINE_BUF | _IO_UNBUFFERED)) && f->_IO_write_ptr &&
	    (size_t)(f->_IO_write_end - f->_IO_write_ptr) > (len ? len : UNKNOWN_LEN))
		return false;
	return gp_fd_may_block(fileno(f));
}

/* A flush writes whatever the buffer holds. */
static bool flush_would_block(FILE *f)
{
	return f && f->_IO_write_ptr > f->_IO_write_base && gp_fd_may_block(fileno(f));
}

/* A stream call: bracketed only if would_block (evaluated only for a ghost task) says so. */
#define STREAM_CALL(would_block, call)                   \
	do {                                             \
		if (!wrap_this_call() || !(would_block)) \
			return call;                     \
		return BLOCKING(call);                   \
	} while (0)
#define STREAM_IN(f, call)	    STREAM_CALL(in_would_block(f, 1, -1), call)
#define STREAM_LINE(f, delim, call) STREAM_CALL(in_would_block(f, 1, delim), call)
#define STREAM_OUT(f, len, call)    STREAM_CALL(out_would_block(f, len), call)

/* What the inlined getc/putc of a program call when the buffer is empty / full. */
int __uflow(FILE *f)
{
	STREAM_IN(f, REAL(__uflow)(f));
}

int __underflow(FILE *f)
{
	STREAM_IN(f, REAL(__underflow)(f));
}

int __overflow(FILE *f, int c)
{
	STREAM_CALL(f && gp_fd_may_block(fileno(f)), REAL(__overflow)(f, c));
}

size_t fread(void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	STREAM_CALL(in_would_block(f, size * n, -1), REAL(fread)(p, size, n, f));
}

size_t(fread_unlocked)(void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	STREAM_CALL(in_would_block(f, size * n, -1), REAL(fread_unlocked)(p, size, n, f));
}

char *fgets(char *restrict s, int n, FILE *restrict f)
{
	STREAM_LINE(f, '\n', REAL(fgets)(s, n, f));
}

char *(fgets_unlocked)(char *restrict s, int n, FILE *restrict f)
{
	STREAM_LINE(f, '\n', REAL(fgets_unlocked)(s, n, f));
}

ssize_t(getline)(char **restrict line, size_t *restrict n, FILE *restrict f)
{
	STREAM_LINE(f, '\n', REAL(getline)(line, n, f));
}

ssize_t getdelim(char **restrict line, size_t *restrict n, int delim, FILE *restrict f)
{
	STREAM_LINE(f, delim, REAL(getdelim)(line, n, delim, f));
}

ssize_t __getdelim(char **line, size_t *n, int delim, FILE *f)
{
	STREAM_LINE(f, delim, REAL(__getdelim)(line, n, delim, f));
}

int fgetc(FILE *f)
{
	STREAM_IN(f, REAL(fgetc)(f));
}

int(getc)(FILE *f)
{
	STREAM_IN(f, REAL(getc)(f));
}

int(getc_unlocked)(FILE *f)
{
	STREAM_IN(f, REAL(getc_unlocked)(f));
}

int(fgetc_unlocked)(FILE *f)
{
	STREAM_IN(f, REAL(fgetc_unlocked)(f));
}

int(getchar)(void)
{
	STREAM_IN(stdin, REAL(getchar)());
}

size_t fwrite(const void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	STREAM_OUT(f, size * n, REAL(fwrite)(p, size, n, f));
}

size_t(fwrite_unlocked)(const void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	STREAM_OUT(f, size * n, REAL(fwrite_unlocked)(p, size, n, f));
}

int fputs(const char *restrict s, FILE *restrict f)
{
	STREAM_OUT(f, strlen(s), REAL(fputs)(s, f));
}

int(fputs_unlocked)(const char *restrict s, FILE *restrict f)
{
	STREAM_OUT(f, strlen(s), REAL(fputs_unlocked)(s, f));
}

int puts(const char *s)
{
	STREAM_OUT(stdout, strlen(s) + 1, REAL(puts)(s));
}

int fputc(int c, FILE *f)
{
	STREAM_OUT(f, 1, REAL(fputc)(c, f));
}

int(putc)(int c, FILE *f)
{
	STREAM_OUT(f, 1, REAL(putc)(c, f));
}

int(putc_unlocked)(int c, FILE *f)
{
	STREAM_OUT(f, 1, REAL(putc_unlocked)(c, f));
}

int(fputc_unlocked)(int c, FILE *f)
{
	STREAM_OUT(f, 1, REAL(fputc_unlocked)(c, f));
}

int(putchar)(int c)
{
	STREAM_OUT(stdout, 1, REAL(putchar)(c));
}

int fflush(FILE *f)
{
	STREAM_CALL(flush_would_block(f), REAL(fflush)(f));
}

int(fflush_unlocked)(FILE *f)
{
	STREAM_CALL(flush_would_block(f), REAL(fflush_unlocked)(f));
}

int fclose(FILE *f)
{
	STREAM_CALL(flush_would_block(f), REAL(fclose)(f));
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	STREAM_OUT(f, 0, REAL(vfprintf)(f, fmt, ap));
}

int vprintf(const char *restrict fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

static int real_vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	return ((__typeof__(real___vfprintf_chk))gp_resolve(
		(void **)&real___vfprintf_chk, "__vfprintf_chk", NULL))(f, flag, fmt, ap);
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	STREAM_OUT(f, 0, real_vfprintf_chk(f, flag, fmt, ap));
}

int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	return __vfprintf_chk(stdout, flag, fmt, ap);
}

/* A variadic printf form as its va_list form (the arguments after last). */
#define VA_FORWARD(last, call) \
	va_list ap;            \
	int r;                 \
	va_start(ap, last);    \
	r = call;              \
	va_end(ap);            \
	return r

int fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
	VA_FORWARD(fmt, vfprintf(f, fmt, ap));
}

int printf(const char *restrict fmt, ...)
{
	VA_FORWARD(fmt, vfprintf(stdout, fmt, ap));
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	VA_FORWARD(fmt, __vfprintf_chk(f, flag, fmt, ap));
}

int __printf_chk(int flag, const char *fmt, ...)
{
	VA_FORWARD(fmt, __vfprintf_chk(stdout, flag, fmt, ap));
}

void gp_resolve_stdio(void)
{
	(void)REAL(__uflow), (void)REAL(__underflow), (void)REAL(__overflow), (void)REAL(fread);
	(void)REAL(fread_unlocked), (void)REAL(fgets), (void)REAL(fgets_unlocked);
	(void)REAL(getline), (void)REAL(getdelim), (void)REAL(__getdelim), (void)REAL(fgetc);
	(void)REAL(getc), (void)REAL(getc_unlocked), (void)REAL(fgetc_unlocked);
	(void)REAL(getchar), (void)REAL(fwrite), (void)REAL(fwrite_unlocked), (void)REAL(fputs);
	(void)REAL(fputs_unlocked), (void)REAL(puts), (void)REAL(fputc), (void)REAL(putc);
	(void)REAL(putc_unlocked), (void)REAL(fputc_unlocked), (void)REAL(putchar);
	(void)REAL(fflush), (void)REAL(fflush_unlocked), (void)REAL(fclose), (void)REAL(vfprintf);
	gp_resolve((void **)&real___vfprintf_chk, "__vfprintf_chk", NULL);
}
