/*
 * fuzz/trace.c - the trace file reader (ghost_trace_parse, src/trace.c).
 *
 * The input is a whole trace file, held in a buffer of exactly its size (a
 * read past its end is AddressSanitizer's to catch). Beyond "no crash", each
 * input checks: the reader accepts exactly what a small reference check
 * written from <ghost/trace.h> accepts; a refusal is -EINVAL with a reason
 * terminated inside its buffer; an accepted file's view points at its own
 * records, every record has a known kind, CPUs in range and times in order
 * within the recording; and no prefix of an accepted file is accepted.
 */
#include "fuzz_common.h"

#include <ghost/trace.h>

/* The reference: the file format as ghost/trace.h describes it. */
static bool ref_valid(const uint8_t *p, size_t n)
{
	struct ghost_trace_header h;
	uint32_t ncpus = 0;

	if (n < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, "GHOSTTRC", 8) || h.version != 1 || h.header_size != 144 ||
	    h.record_size != 32 || h.clock != 1 || h.start_ns > h.end_ns)
		return false;
	for (int i = 0; i < 8; i++)
		for (int b = 0; b < 64; b++)
			ncpus += (h.cpus[i] >> b) & 1;
	if (!ncpus || ncpus != h.ncpus || (n - 144) % 32 || (n - 144) / 32 != h.nrecords)
		return false;
	for (uint64_t i = 0; i < h.nrecords; i++) {
		struct ghost_trace_record r, prev;

		memcpy(&r, p + 144 + i * 32, sizeof(r));
		if ((r.kind != 1 && r.kind != 2) || r.cpu < -1 || r.cpu > 511 || r.agent_cpu < -1 ||
		    r.agent_cpu > 511 || r.time_ns < h.start_ns || r.time_ns > h.end_ns)
			return false;
		if (i) {
			memcpy(&prev, p + 144 + (i - 1) * 32, sizeof(prev));
			if (r.time_ns < prev.time_ns)
				return false;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1); /* malloc's alignment: 16 */
	struct ghost_trace_view v;
	char why[128];
	int err;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(why, 'x', sizeof(why));
	err = ghost_trace_parse(buf, size, &v, why, sizeof(why));
	FZ_CHECK(err == 0 || err == -EINVAL, "ghost_trace_parse returned %d", err);
	FZ_CHECK((err == 0) == ref_valid(buf, size), "the reader %s what the reference %s",
		 err ? "refused" : "accepted", err ? "accepts" : "refuses");
	FZ_CHECK(memchr(why, 0, sizeof(why)) != NULL, "the reason is not terminated");
	if (err) {
		FZ_CHECK(why[0] != 0, "a refusal without a reason");
		free(buf);
		return 0;
	}
	FZ_CHECK(why[0] == 0, "a reason for an accepted file: %s", why);
	FZ_CHECK((const uint8_t *)v.records == buf + sizeof(v.hdr) &&
			 v.nrecords == (size - sizeof(v.hdr)) / sizeof(*v.records),
		 "the view is not the file's");
	for (size_t i = 0; i < v.nrecords; i++) {
		const struct ghost_trace_record *r = &v.records[i];

		FZ_CHECK(r->kind == GHOST_TRACE_MSG || r->kind == GHOST_TRACE_TXN, "kind %u",
			 r->kind);
		FZ_CHECK(r->cpu >= -1 && r->cpu < GHOST_MAX_CPUS, "cpu %d", r->cpu);
		FZ_CHECK(r->time_ns >= v.hdr.start_ns && r->time_ns <= v.hdr.end_ns,
			 "a time outside the recording");
		FZ_CHECK(!i || r->time_ns >= r[-1].time_ns, "times out of order");
	}
	/* A prefix of a whole file is a truncated file: each shorter length is refused. */
	for (size_t cut = size; cut-- > 0 && size - cut <= 64;)
		FZ_CHECK(ghost_trace_parse(buf, cut, &v, NULL, 0) == -EINVAL,
			 "a prefix of %zu of %zu bytes accepted", cut, size);
	free(buf);
	return 0;
}
