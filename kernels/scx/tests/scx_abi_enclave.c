/*
 * kernels/scx/tests/scx_abi_enclave.c - an enclave on the sched_ext backend loads the
 * scheduler and takes it away again.
 *
 * Runs as root inside the sched_ext virtual machine (scripts/scx-tests.sh), on the fixture of
 * scx_abi.h without its child: the enclave is created on the "scx" kernel over CPUs 1-3 and
 * its backend is named "scx"; /sys/kernel/sched_ext/state must read "enabled" while it is
 * open; one channel is the default queue; the main thread becomes the agent of CPU 1
 * (SCHED_FIFO, pinned there, its status word IS_AGENT), two threads the agents of CPUs 2 and
 * 3 (their words IS_AGENT), which sit in local yield; the state still reads "enabled"; the
 * agents stop when pinged, the enclave is destroyed and closed, and the state must read
 * "disabled". No CPU message may be for a CPU outside the enclave or ahead of its agent's
 * barrier, and no task message may come at all.
 *
 * Exit status: 0 passed, 1 failed, 77 skipped (see scx_abi.h).
 */
#define PROG "scx_abi_enclave"
#include "scx_abi.h"

int main(void)
{
	abi_start(0);
	abi_finish();
	return 0;
}
