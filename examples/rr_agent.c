/*
 * examples/rr_agent.c - an agent program of one's own: ghost-agent's command
 * line with the round-robin policy built in (used when --policy is not
 * given). Built by `make examples`; try `rr-agent --cpus 0-1 --stats 1`.
 */
#include <ghost/agent_main.h>

extern const struct ghost_policy round_robin_policy;

int main(int argc, char **argv)
{
	return ghost_agent_main(argc, argv, &round_robin_policy);
}
