/*
 * kernels/scx/scx_stub.c - the sched_ext backend's stand-in in a build without SCX=1.
 *
 * Only a name and a probe that says how to get the real backend (kernels/scx/scx.c):
 * the registry (src/kernel.c) finds this table incomplete, so nothing but the probe is
 * ever called, and every use of it fails with that sentence instead of a crash.
 */
#include "backend.h"

#include <errno.h>
#include <stdio.h>

static int scx_stub_probe(const char *root, char *why, size_t why_len)
{
	(void)root;
	snprintf(why, why_len,
		 "this build has no sched_ext backend (rebuild with make SCX=1: needs clang, "
		 "libbpf >= 1.4 and a vmlinux.h with sched_ext)");
	return -ENODEV;
}

const struct ghost_kernel_ops ghost_kernel_scx = {
	.version = GHOST_KERNEL_OPS_VERSION,
	.name = "scx",
	.summary = "sched_ext BPF scheduler on a stock kernel (>= 6.12)",
	.probe = scx_stub_probe,
};
