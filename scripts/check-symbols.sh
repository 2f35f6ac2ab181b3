#!/usr/bin/env bash
# scripts/check-symbols.sh - checks the shared library's exports against
# src/libghost.map and the public headers, and names every symbol that
# differs:
#   - a symbol the map lists that the library does not export (removed,
#     renamed, or not GHOST_API), or exports in another version node;
#   - a symbol the library exports that the map does not list;
#   - a function a header of include/ghost/ declares GHOST_API that the
#     library does not export (it is missing from the map);
#   - an exported symbol no public header declares GHOST_API;
#   - a version node that is not LIBGHOST_MAJOR.MINOR of this release or an
#     earlier one with the same MAJOR, a soname that is not libghost.so.MAJOR.
# Reads only; builds nothing. Exit status: 0 all agree, 1 a difference
# (one line per symbol), 2 bad usage or no library.
#
# Usage: scripts/check-symbols.sh [LIBRARY [MAP]]
#   LIBRARY  default build/lib/libghost.so (a link to libghost.so.M.m.p,
#            whose name gives the release)
#   MAP      default src/libghost.map
set -u
export LC_ALL=C
cd "$(dirname "$0")/.."
lib=${1:-build/lib/libghost.so}
map=${2:-src/libghost.map}
me=check-symbols
if [ ! -e "$lib" ] || [ ! -e "$map" ]; then
	echo "$me: no ${lib} or no ${map} (make lib builds the library)" >&2
	exit 2
fi
real=$(basename "$(readlink -f "$lib")")
if ! [[ $real =~ ^libghost\.so\.([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
	echo "$me: $lib is $real, not libghost.so.MAJOR.MINOR.PATCH" >&2
	exit 2
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
problem() {
	echo "$me: $*"
	fail=1
}

# The map: "symbol node" per listed symbol, and the nodes, without comments.
perl -0777 -ne '
	s{/\*.*?\*/}{}gs;
	while (/([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*[\w.]*\s*;/gs) {
		my ($node, $body) = ($1, $2);
		print "node $node\n";
		$body =~ s/\blocal\s*:.*//s;
		$body =~ s/\bglobal\s*:// ;
		print "sym $_ $node\n" for $body =~ /([^\s;]+)\s*;/g;
	}' "$map" >"$tmp/map.raw"
sed -n 's/^sym //p' "$tmp/map.raw" | sort >"$tmp/map.versions"
cut -d' ' -f1 "$tmp/map.versions" | sort -u >"$tmp/map"
if [ ! -s "$tmp/map" ]; then
	echo "$me: $map lists no symbols" >&2
	exit 2
fi
for node in $(sed -n 's/^node //p' "$tmp/map.raw"); do
	if ! [[ $node =~ ^LIBGHOST_([0-9]+)\.([0-9]+)$ ]] || [ "${BASH_REMATCH[1]}" != "$major" ] ||
		[ "${BASH_REMATCH[2]}" -gt "$minor" ]; then
		problem "version node $node in $map is not LIBGHOST_$major.N with N <= $minor (the release is $major.$minor)"
	fi
done
for sym in $(cut -d' ' -f1 "$tmp/map.versions" | uniq -d); do
	problem "$sym is listed more than once in $map"
done
for sym in $(grep -E '[*?[]' "$tmp/map"); do
	problem "$map has the pattern \"$sym\": list every symbol by name"
done

# The library's exports: "symbol node" (nm -D marks the node symbols themselves "A").
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libghost.so.$major" ] || problem "$lib has soname \"$soname\", not libghost.so.$major"
nm -D --defined-only "$lib" | awk '$2 != "A" { n = split($3, v, "@+"); print v[1], (n > 1 ? v[n] : "-") }' |
	sort >"$tmp/lib.versions"
cut -d' ' -f1 "$tmp/lib.versions" | sort -u >"$tmp/lib"

# GHOST_API declarations in the public headers: "symbol header".
perl -ne '
	BEGIN { undef $/ }
	my $text = $_;
	$text =~ s{/\*.*?\*/}{}gs;
	$text =~ s{//[^\n]*}{}g;
	while ($text =~ /^(?!\s*#).*?\bGHOST_API\b([^;{]*)/gm) {
		my $decl = $1;
		$decl =~ s/\(.*//s;
		print "$1 $ARGV\n" if $decl =~ /([A-Za-z_]\w*)\s*$/;
	}' include/ghost/*.h | sort -u >"$tmp/api.where"
cut -d' ' -f1 "$tmp/api.where" | sort -u >"$tmp/api"

for sym in $(comm -23 "$tmp/map" "$tmp/lib"); do
	problem "$sym is listed in $map but $real does not export it (removed, renamed, or not GHOST_API?)"
done
for sym in $(comm -13 "$tmp/map" "$tmp/lib"); do
	problem "$sym is exported by $real but not listed in $map"
done
join "$tmp/map.versions" "$tmp/lib.versions" | while read -r sym want got; do
	[ "$want" = "$got" ] || echo "$me: $sym is exported in version node $got but listed in $want in $map"
done >"$tmp/moved"
if [ -s "$tmp/moved" ]; then
	cat "$tmp/moved"
	fail=1
fi
for sym in $(comm -23 "$tmp/api" "$tmp/lib"); do
	problem "$sym is declared GHOST_API in $(grep "^$sym " "$tmp/api.where" | cut -d' ' -f2 | paste -sd,) but $real does not export it: list it in $map"
done
for sym in $(comm -13 "$tmp/api" "$tmp/lib"); do
	problem "$sym is exported by $real but no header of include/ghost/ declares it GHOST_API"
done

if [ $fail -ne 0 ]; then
	echo "$me: $real, $map and include/ghost/ disagree (above)"
	exit 1
fi
echo "$me: $real exports the $(wc -l <"$tmp/lib") symbols $map lists, every GHOST_API function of include/ghost/"
