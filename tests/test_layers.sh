#!/usr/bin/env bash
# tests/test_layers.sh - the layer check passes on the library as built, and fails on a
# planted upward call and on a planted cycle (so a passing check means something).
# Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
build=${BUILD:-build}
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$build/lib/libghost.a" ] || { echo "no $build/lib/libghost.a: build first"; exit 77; }
command -v nm >/dev/null && command -v ld >/dev/null || { echo "needs binutils"; exit 77; }

# The library's own objects, as the archive holds them (names from the build tree).
mapfile -t objs < <(ar t "$build/lib/libghost.a" | while read -r m; do
	find "$build/obj" -name "$m"; done | sort -u)
[ ${#objs[@]} -ge 20 ] || fail "found only ${#objs[@]} objects"
out=$(scripts/check-layers.sh "${objs[@]}") || fail "the tree itself: $out"
echo "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plant() {
	# plant OBJECT C-SOURCE [again]: a copy of the objects where OBJECT also holds SOURCE's
	# code ("again": on top of the previous plant).
	[ "${3:-}" = again ] || rm -rf "$tmp/obj"
	[ "${3:-}" = again ] || for o in "${objs[@]}"; do
		rel=${o##*/obj/}
		mkdir -p "$tmp/obj/$(dirname "$rel")"
		cp "$o" "$tmp/obj/$rel"
	done
	printf '%s\n' "$2" >"$tmp/planted.c"
	${CC:-cc} -c -o "$tmp/planted.o" "$tmp/planted.c" || fail "cannot compile the plant"
	ld -r -o "$tmp/merged.o" "$tmp/obj/$1.o" "$tmp/planted.o" || fail "cannot merge the plant"
	mv "$tmp/merged.o" "$tmp/obj/$1.o"
	find "$tmp/obj" -name '*.o' | sort
}

# An upward call: the utility layer's log calls a transaction function.
mapfile -t planted < <(plant src/log 'int ghost_txn_commit(void *, int);
int ghost_log_planted(void) { return ghost_txn_commit((void *)0, 0); }')
if out=$(scripts/check-layers.sh "${planted[@]}"); then
	fail "a planted upward call passed: $out"
fi
grep -q 'upward call: src/log (util) calls ghost_txn_commit of src/txn (mechanism)' <<<"$out" ||
	fail "the upward call was not named: $out"
echo "planted upward call refused: $(head -n 1 <<<"$out")"

# A cycle inside one layer (mechanism): channel calls txn, txn calls channel.
plant src/channel 'int ghost_txn_commit(void *, int);
int ghost_channel_planted(void) { return ghost_txn_commit((void *)0, 0); }' >/dev/null
mapfile -t planted < <(plant src/txn 'int ghost_channel_set_default(void *);
int ghost_txn_planted(void) { return ghost_channel_set_default((void *)0); }' again)
if out=$(scripts/check-layers.sh "${planted[@]}"); then
	fail "a planted cycle passed: $out"
fi
grep -q 'cycle: src/channel calls ghost_txn_commit of src/txn' <<<"$out" ||
	fail "the cycle was not named: $out"
grep -q 'upward' <<<"$out" && fail "a same-layer cycle reported as upward: $out"
echo "planted cycle refused: $(head -n 1 <<<"$out")"

# An object no layer names.
mapfile -t planted < <(plant src/log 'int unused_planted;')
printf 'int ghost_stray(void) { return 0; }\n' >"$tmp/stray.c"
mkdir -p "$tmp/obj/src" && ${CC:-cc} -c -o "$tmp/obj/src/stray.o" "$tmp/stray.c"
if out=$(scripts/check-layers.sh "${planted[@]}" "$tmp/obj/src/stray.o"); then
	fail "an object in no layer passed: $out"
fi
grep -q 'src/stray is in no layer' <<<"$out" || fail "the stray object was not named: $out"
echo "object in no layer refused"
echo "test_layers: ok"
