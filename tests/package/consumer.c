/*
 * tests/package/consumer.c - a program built out of the tree against an
 * installed libghost (tests/package/test_install.sh compiles it with
 * pkg-config, shared and static): it includes only <ghost/ghost.h> and uses
 * only what the installed headers declare.
 *
 * On the default embedded backend, under the namespace root given as its
 * argument (never the user's own), it creates an enclave over the first CPU
 * it may run on, checks its id, CPUs, files and tunables, that the id is
 * now taken, destroys it and checks it is gone. Prints the library release
 * it was compiled against; exit status 0 when every check held, 1 otherwise
 * (one line says which).
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <ghost/ghost.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define ENCLAVE_ID 42

static int failed(const char *what, int err)
{
	fprintf(stderr, "consumer: %s: %s\n", what, err ? ghost_strerror(err) : "wrong result");
	return 1;
}

int main(int argc, char **argv)
{
	struct ghost_enclave_opts opts = { .sz = sizeof(opts), .id = ENCLAVE_ID };
	struct ghost_enclave *e, *again = NULL;
	struct ghost_cpuset cpus;
	cpu_set_t allowed;
	char text[64], want[16];
	long long ticks;
	int cpu = -1, err;

	if (argc != 2) {
		fprintf(stderr, "usage: consumer ROOT\n");
		return 2;
	}
	printf("libghost %d.%d.%d, ghOSt ABI %d\n", GHOST_LIB_VERSION_MAJOR,
	       GHOST_LIB_VERSION_MINOR, GHOST_LIB_VERSION_PATCH, GHOST_VERSION);
	if (strcmp(ghost_kernel_name(ghost_kernel_default()), "emu") != 0)
		return failed("the default backend is not emu", 0);

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return failed("sched_getaffinity", -errno);
	for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
		if (CPU_ISSET(c, &allowed))
			cpu = c;
	ghost_cpuset_zero(&cpus);
	if (cpu < 0 || ghost_cpuset_set(&cpus, cpu) != 0)
		return failed("no CPU to run on", 0);
	opts.root = argv[1];
	opts.cpus = &cpus;

	err = ghost_enclave_create(&opts, &e);
	if (err)
		return failed("ghost_enclave_create", err);
	if (ghost_enclave_id(e) != ENCLAVE_ID)
		return failed("ghost_enclave_id", 0);
	if (!ghost_cpuset_equal(ghost_enclave_cpus(e), &cpus))
		return failed("ghost_enclave_cpus", 0);

	err = ghost_enclave_read_file(e, "cpulist", text, sizeof(text));
	snprintf(want, sizeof(want), "%d", cpu);
	if (err < 0)
		return failed("ghost_enclave_read_file cpulist", err);
	if (strncmp(text, want, strlen(want)) != 0 ||
	    (text[strlen(want)] != '\0' && text[strlen(want)] != '\n'))
		return failed("cpulist", 0);

	err = ghost_enclave_set_tunable(e, GHOST_TUNABLE_DELIVER_TICKS, 1);
	if (err)
		return failed("ghost_enclave_set_tunable", err);
	err = ghost_enclave_get_tunable(e, GHOST_TUNABLE_DELIVER_TICKS, &ticks);
	if (err)
		return failed("ghost_enclave_get_tunable", err);
	if (ticks != 1)
		return failed("deliver_ticks", 0);

	err = ghost_enclave_create(&opts, &again);
	if (err != -EEXIST)
		return failed("a second enclave with the same id", err ? err : -EINVAL);

	err = ghost_enclave_destroy(e);
	if (err)
		return failed("ghost_enclave_destroy", err);
	ghost_enclave_close(e);
	err = ghost_enclave_attach(&opts, &again);
	if (err != -ENOENT)
		return failed("attaching the destroyed enclave", err ? err : -EINVAL);

	printf("enclave %d over CPU %d: created, checked, destroyed\n", ENCLAVE_ID, cpu);
	return 0;
}
