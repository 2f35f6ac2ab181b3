#!/usr/bin/env bash
# scripts/check-layers.sh - checks that the library's objects call only downwards.
#
# Usage: scripts/check-layers.sh [--layers FILE] OBJECT...
# Each object is named by its path after the last "/obj/" (build/obj/src/txn.o is src/txn),
# as scripts/layers.conf names them; `make check-layers` passes the library's objects.
# Reads every object's defined and undefined global symbols (nm), resolves each call to
# the object that defines it, and fails (exit 1, one line per fault) on:
#   - an object that calls one in a later layer of FILE (default scripts/layers.conf);
#   - a cycle of calls between objects (even within one layer);
#   - an object that no layer names, or a layer entry that matches no object.
# Prints "layers: N objects, M calls between them, all downwards" when the tree is clean.
# It only reads; it never builds.
set -u
layers=$(dirname "$0")/layers.conf
if [ "${1:-}" = "--layers" ]; then layers=$2; shift 2; fi
if [ $# -eq 0 ]; then
	echo "usage: $0 [--layers FILE] OBJECT..." >&2
	exit 2
fi
[ -r "$layers" ] || { echo "check-layers: cannot read $layers" >&2; exit 2; }
command -v nm >/dev/null || { echo "check-layers: needs nm (binutils)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One line per symbol: "D object symbol" (defined, global) or "U object symbol".
: >"$tmp/objects"
for o in "$@"; do
	[ -r "$o" ] || { echo "check-layers: cannot read $o" >&2; exit 2; }
	name=${o##*/obj/}
	echo "${name%.o}" >>"$tmp/objects"
done
# One nm for all (each run costs as much as the reading): "path: [value] type symbol".
nm -A "$@" | awk '
	{
		i = index($0, ".o:"); path = substr($0, 1, i + 1); rest = substr($0, i + 3)
		name = path; sub(/.*\/obj\//, "", name); sub(/\.o$/, "", name)
		n = split(rest, f, " ")
		if (n == 2 && f[1] == "U") print "U", name, f[2]
		else if (n == 3 && f[2] ~ /^[TDBRVWG]$/) print "D", name, f[3]
	}' >"$tmp/symbols"

awk -v layers_file="$layers" -v objects_file="$tmp/objects" '
function fail(msg) { print "check-layers: " msg; bad = 1 }
BEGIN {
	nl = 0
	while ((getline line < layers_file) > 0) {
		sub(/#.*/, "", line)
		if (line !~ /:/) continue
		nl++
		lname[nl] = line; sub(/:.*/, "", lname[nl]); gsub(/[ \t]/, "", lname[nl])
		rest = line; sub(/^[^:]*:/, "", rest)
		n = split(rest, pats, /[ \t]+/)
		for (i = 1; i <= n; i++) if (pats[i] != "") {
			np++; pat[np] = pats[i]; patl[np] = nl; used[np] = 0; optional[np] = 0
			if (pat[np] ~ /\?$/) { optional[np] = 1; pat[np] = substr(pat[np], 1, length(pat[np]) - 1) }
		}
	}
	while ((getline o < objects_file) > 0) {
		obj[o] = 1; nobj++
		for (i = 1; i <= np; i++) {
			p = pat[i]
			hit = (p ~ /\*$/) ? (index(o, substr(p, 1, length(p) - 1)) == 1) : (o == p)
			if (hit) {
				if (o in layer && layer[o] != patl[i]) fail(o " is in two layers")
				layer[o] = patl[i]; used[i] = 1
			}
		}
		if (!(o in layer)) fail(o " is in no layer of " layers_file)
	}
}
$1 == "D" { def[$3] = $2 }
$1 == "U" { ref[++nr] = $2 SUBSEP $3 }
END {
	for (i = 1; i <= np; i++) if (!used[i] && !optional[i]) fail("layer " lname[patl[i]] ": " pat[i] " matches no object")
	for (r = 1; r <= nr; r++) {
		split(ref[r], a, SUBSEP); from = a[1]; sym = a[2]
		if (!(sym in def)) continue		# outside the library (libc...)
		to = def[sym]
		if (to == from) continue
		if (!((from, to) in edge)) { edge[from, to] = sym; nedge++; out[from] = out[from] " " to }
		if (layer[to] > layer[from])
			fail("upward call: " from " (" lname[layer[from]] ") calls " sym " of " to " (" lname[layer[to]] ")")
	}
	# Cycles: peel off objects that call no remaining object, and objects no remaining
	# object calls; whatever is left is on a cycle.
	for (o in obj) alive[o] = 1
	do {
		changed = 0
		for (o in alive) {
			n = split(out[o], t, " "); leaf = 1
			for (i = 1; i <= n; i++) if (t[i] in alive) { leaf = 0; break }
			if (leaf) { delete alive[o]; changed = 1; continue }
			called = 0
			for (p in alive) if ((p, o) in edge) { called = 1; break }
			if (!called) { delete alive[o]; changed = 1 }
		}
	} while (changed)
	for (o in alive) {
		n = split(out[o], t, " ")
		for (i = 1; i <= n; i++) if (t[i] in alive) fail("cycle: " o " calls " edge[o, t[i]] " of " t[i] ", which leads back to it")
	}
	if (bad) exit 1
	printf "layers: %d objects, %d calls between them, all downwards\n", nobj, nedge
}' "$tmp/symbols"
