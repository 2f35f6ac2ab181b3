/*
 * policies/rbtree.c - the intrusive red-black tree of policies/rbtree.h.
 *
 * The rules kept after every change: the root is black, a red node has no
 * red child, and every path from a node down to a missing child crosses the
 * same number of black nodes; so no path is more than twice as long as
 * another and the height stays under 2 log2(n + 1). Missing children count
 * as black. Pure bookkeeping: no lock, no allocation, no output.
 */
#include "rbtree.h"

#include <errno.h>

static bool is_red(const struct policy_rb_node *n)
{
	return n && n->red;
}

/* Puts v where u hangs (under u's parent, or at the root). */
static void replace(struct policy_rb_tree *t, struct policy_rb_node *u, struct policy_rb_node *v)
{
	struct policy_rb_node *p = u->parent;

	if (!p)
		t->root = v;
	else if (p->left == u)
		p->left = v;
	else
		p->right = v;
	if (v)
		v->parent = p;
}

/* x's right child takes x's place; x becomes its left child. */
static void rotate_left(struct policy_rb_tree *t, struct policy_rb_node *x)
{
	struct policy_rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	replace(t, x, y);
	y->left = x;
	x->parent = y;
}

/* The mirror image: x's left child takes x's place. */
static void rotate_right(struct policy_rb_tree *t, struct policy_rb_node *x)
{
	struct policy_rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	replace(t, x, y);
	y->right = x;
	x->parent = y;
}

void policy_rb_insert(struct policy_rb_tree *t, struct policy_rb_node *n, policy_rb_less_fn less)
{
	struct policy_rb_node **link = &t->root, *parent = NULL;
	bool leftmost = true;

	while (*link) {
		parent = *link;
		if (less(n, parent)) {
			link = &parent->left;
		} else {
			link = &parent->right;
			leftmost = false;
		}
	}
	n->parent = parent;
	n->left = n->right = NULL;
	n->red = true;
	*link = n;
	if (leftmost)
		t->first = n;
	t->count++;

	/* A red node under a red parent: recolour upwards or rotate once or twice. */
	while (is_red(n->parent)) {
		struct policy_rb_node *p = n->parent, *g = p->parent, *uncle;

		/* p is red, so it is not the root: g exists. */
		if (p == g->left) {
			uncle = g->right;
			if (is_red(uncle)) {
				p->red = uncle->red = false;
				g->red = true;
				n = g;
				continue;
			}
			if (n == p->right) {
				rotate_left(t, p);
				n = p;
				p = n->parent;
			}
			p->red = false;
			g->red = true;
			rotate_right(t, g);
		} else {
			uncle = g->left;
			if (is_red(uncle)) {
				p->red = uncle->red = false;
				g->red = true;
				n = g;
				continue;
			}
			if (n == p->left) {
				rotate_right(t, p);
				n = p;
				p = n->parent;
			}
			p->red = false;
			g->red = true;
			rotate_left(t, g);
		}
	}
	t->root->red = false;
}

static struct policy_rb_node *leftmost_of(struct policy_rb_node *n)
{
	while (n->left)
		n = n->left;
	return n;
}

struct policy_rb_node *policy_rb_next(const struct policy_rb_node *n)
{
	const struct policy_rb_node *p;

	if (n->right)
		return leftmost_of(n->right);
	for (p = n->parent; p && n == p->right; p = p->parent)
		n = p;
	return (struct policy_rb_node *)p;
}

/*
 * After a black node left the path through x (x may be missing; xp is its
 * parent): that path is one black short. Borrow from the sibling's side, or
 * push the shortage up.
 */
static void erase_fixup(struct policy_rb_tree *t, struct policy_rb_node *x,
			struct policy_rb_node *xp)
{
	while (x != t->root && !is_red(x)) {
		struct policy_rb_node *w;

		/*
		 * x == xp->left cannot mislead when x is missing: the sibling
		 * side holds at least one black node, so it is never missing too.
		 */
		if (x == xp->left) {
			w = xp->right;
			if (is_red(w)) {
				w->red = false;
				xp->red = true;
				rotate_left(t, xp);
				w = xp->right;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = true;
				x = xp;
				xp = x->parent;
				continue;
			}
			if (!is_red(w->right)) {
				w->left->red = false;
				w->red = true;
				rotate_right(t, w);
				w = xp->right;
			}
			w->red = xp->red;
			xp->red = false;
			w->right->red = false;
			rotate_left(t, xp);
		} else {
			w = xp->left;
			if (is_red(w)) {
				w->red = false;
				xp->red = true;
				rotate_right(t, xp);
				w = xp->left;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = true;
				x = xp;
				xp = x->parent;
				continue;
			}
			if (!is_red(w->left)) {
				w->right->red = false;
				w->red = true;
				rotate_left(t, w);
				w = xp->left;
			}
			w->red = xp->red;
			xp->red = false;
			w->left->red = false;
			rotate_right(t, xp);
		}
		x = t->root;
		break;
	}
	if (x)
		x->red = false;
}

void policy_rb_erase(struct policy_rb_tree *t, struct policy_rb_node *n)
{
	struct policy_rb_node *x, *xp;
	bool removed_red;

	if (t->first == n)
		t->first = policy_rb_next(n);
	if (!n->left || !n->right) {
		/* At most one child: it takes n's place. */
		x = n->left ? n->left : n->right;
		xp = n->parent;
		removed_red = n->red;
		replace(t, n, x);
	} else {
		/* Two children: n's successor y (no left child) takes n's place
		 * and colour; what is lost is y's colour at y's old spot. */
		struct policy_rb_node *y = leftmost_of(n->right);

		removed_red = y->red;
		x = y->right;
		if (y->parent == n) {
			xp = y;
		} else {
			xp = y->parent;
			replace(t, y, x);
			y->right = n->right;
			y->right->parent = y;
		}
		replace(t, n, y);
		y->left = n->left;
		y->left->parent = y;
		y->red = n->red;
	}
	if (!removed_red)
		erase_fixup(t, x, xp);
	t->count--;
	n->parent = n->left = n->right = NULL;
	n->red = false;
}

/* Black height of the subtree at n, or -1 if a rule is broken in it. */
static int check_node(const struct policy_rb_node *n, const struct policy_rb_node *parent,
		      policy_rb_less_fn less, uint32_t *count)
{
	int lh, rh;

	if (!n)
		return 1;
	(*count)++;
	if (n->parent != parent || (n->red && (is_red(n->left) || is_red(n->right))))
		return -1;
	if ((n->left && less(n, n->left)) || (n->right && less(n->right, n)))
		return -1;
	lh = check_node(n->left, n, less, count);
	rh = check_node(n->right, n, less, count);
	if (lh < 0 || lh != rh)
		return -1;
	return lh + !n->red;
}

int policy_rb_check(const struct policy_rb_tree *t, policy_rb_less_fn less)
{
	const struct policy_rb_node *prev = NULL;
	uint32_t count = 0, walked = 0;

	if (is_red(t->root) || check_node(t->root, NULL, less, &count) < 0 || count != t->count)
		return -EINVAL;
	if (t->first != (t->root ? leftmost_of(t->root) : NULL))
		return -EINVAL;
	/* In order, each node no smaller than the one before. */
	for (const struct policy_rb_node *n = t->first; n; n = policy_rb_next(n)) {
		if (prev && less(n, prev))
			return -EINVAL;
		prev = n;
		walked++;
	}
	return walked == count ? 0 : -EINVAL;
}
