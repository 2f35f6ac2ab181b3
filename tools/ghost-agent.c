/*
 * tools/ghost-agent.c - the agent process: ghost_agent_main() with the
 * built-in policies and plugins (tools/agent/agent_main.c).
 */
#include <ghost/agent_main.h>

int main(int argc, char **argv)
{
	return ghost_agent_main(argc, argv, NULL);
}
