// tests/cxx/all_headers.cc - the public headers as C++: every one included
// (each on its own as well: tests/package/test_cxx.sh), compiled with
// -std=c++17 -Wall -Wextra -Werror, linked against the library and calling
// into it, inline and exported functions alike, so that a missing
// extern "C" fails the link. Exit status 0 when every check held, 1
// otherwise (one line says which).
#include <ghost/abi.h>
#include <ghost/agent.h>
#include <ghost/channel.h>
#include <ghost/common.h>
#include <ghost/cpuset.h>
#include <ghost/enclave.h>
#include <ghost/ghost.h>
#include <ghost/kernel.h>
#include <ghost/priotable.h>
#include <ghost/sched.h>
#include <ghost/status.h>
#include <ghost/thread.h>
#include <ghost/topology.h>
#include <ghost/trace.h>
#include <ghost/txn.h>

#include <cerrno>
#include <cstdio>
#include <string>

static_assert(sizeof(ghost_msg) == 8, "the ABI's layouts hold in C++ too");

static int failures;

static void check(bool ok, const std::string &what)
{
	if (!ok) {
		std::fprintf(stderr, "all_headers: %s\n", what.c_str());
		failures++;
	}
}

int main()
{
	ghost_cpuset cpus;
	char text[64];

	ghost_cpuset_zero(&cpus);
	check(ghost_cpuset_set(&cpus, 0) == 0 && ghost_cpuset_set(&cpus, 3) == 0,
	      "ghost_cpuset_set");
	check(ghost_cpuset_count(&cpus) == 2, "ghost_cpuset_count");
	check(ghost_cpuset_format_list(&cpus, text, sizeof(text)) >= 0 &&
		      std::string(text) == "0,3",
	      "ghost_cpuset_format_list");
	check(ghost_cpuset_parse_list(&cpus, "1-2", GHOST_MAX_CPUS, 0) == 0 &&
		      ghost_cpuset_first(&cpus) == 1 && ghost_cpuset_count(&cpus) == 2,
	      "ghost_cpuset_parse_list");

	const ghost_kernel_ops *emu = ghost_kernel_find("emu");
	check(emu != nullptr && std::string(ghost_kernel_name(emu)) == "emu",
	      "ghost_kernel_find(\"emu\")");
	check(ghost_kernel_find("no-such-backend") == nullptr,
	      "ghost_kernel_find of an unknown name");
	check(std::string(ghost_tunable_name(GHOST_TUNABLE_DELIVER_TICKS)) == "deliver_ticks",
	      "ghost_tunable_name");
	check(std::string(ghost_msg_type_name(MSG_TASK_NEW)) == "MSG_TASK_NEW",
	      "ghost_msg_type_name");
	check(ghost_strerror(-ENOENT) != nullptr && *ghost_strerror(-ENOENT) != '\0',
	      "ghost_strerror");
	check(ghost_now_ns() > 0, "ghost_now_ns");
	{
		ghost_trace_view v;
		char why[128];
		alignas(8) char junk[16] = "not a trace";

		check(ghost_trace_parse(junk, sizeof(junk), &v, why, sizeof(why)) == -EINVAL &&
			      why[0] != '\0',
		      "ghost_trace_parse refuses what is no trace");
	}

	std::printf("libghost %d.%d.%d from C++: %s\n", GHOST_LIB_VERSION_MAJOR,
		    GHOST_LIB_VERSION_MINOR, GHOST_LIB_VERSION_PATCH, failures ? "failed" : "ok");
	return failures ? 1 : 0;
}
