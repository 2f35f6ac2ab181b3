/*
 * policies/rbtree.h - an intrusive red-black tree for the policies' ordered
 * run queues: insert, erase any node, the first node and the next one, each
 * O(log n) at worst, with no allocation (the node lives in the task record).
 *
 * Pure bookkeeping: no lock (the caller holds its policy's lock), no output.
 * A node is in at most one tree; the caller remembers which (the tree does
 * not mark its nodes).
 */
#ifndef GHOST_POLICIES_RBTREE_H
#define GHOST_POLICIES_RBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_rb_node {
	struct policy_rb_node *parent, *left, *right;
	bool red;
};

struct policy_rb_tree {
	struct policy_rb_node *root;
	struct policy_rb_node *first; /* the leftmost node, kept on every change */
	uint32_t count;
};

/* Does a sort before b? Equal keys must say false both ways. */
typedef bool (*policy_rb_less_fn)(const struct policy_rb_node *a, const struct policy_rb_node *b);

/* Adds n (not in any tree); equal keys go after the ones already there. */
void policy_rb_insert(struct policy_rb_tree *t, struct policy_rb_node *n, policy_rb_less_fn less);
/* Takes n (in t) out of t; its links are cleared. */
void policy_rb_erase(struct policy_rb_tree *t, struct policy_rb_node *n);
/* The node after n in order, NULL after the last. */
struct policy_rb_node *policy_rb_next(const struct policy_rb_node *n);

static inline struct policy_rb_node *policy_rb_first(const struct policy_rb_tree *t)
{
	return t->first;
}

/*
 * Checks every rule of the tree (order, colours, black heights, parent links,
 * the first node, the count): 0, or -EINVAL. For tests; O(n).
 */
int policy_rb_check(const struct policy_rb_tree *t, policy_rb_less_fn less);

#endif
