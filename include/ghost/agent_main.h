/*
 * ghost/agent_main.h - the ghost-agent program as one call, for people who
 * want their own agent binary (their own policy built in) with the same
 * command line. It lives in libghost-agent (pkg-config libghost-agent),
 * not in libghost: like any program's main it prints and may exit.
 */
#ifndef GHOST_AGENT_MAIN_H
#define GHOST_AGENT_MAIN_H

#include <ghost/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs ghost-agent with argc/argv: `--policy` picks a built-in policy or a
 * plugin; policy (may be NULL) is the one used when --policy is not given,
 * and is listed by --help and --list-policies with the built-in ones.
 * Returns ghost-agent's exit status (0, 1 or 2; see its --help). Call it
 * once per process, from the main thread: it installs SIGINT and SIGTERM
 * handlers.
 */
int ghost_agent_main(int argc, char **argv, const struct ghost_policy *policy);

#ifdef __cplusplus
}
#endif

#endif
