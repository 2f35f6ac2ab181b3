#!/usr/bin/env bash
# tests/package/test_install.sh - `make install` and `make uninstall`, and
# the installed library in use:
#   - the header list of mk/install.mk covers include/ghost/ (and the check
#     names a header that is missing from it);
#   - a staged install (DESTDIR, PREFIX=/usr, LIBDIR overridden) puts
#     exactly the expected files there, the library's links and soname,
#     a libghost.pc with the right paths, the unit with the right paths;
#     uninstall leaves no file behind;
#   - an install into a temporary PREFIX: tests/package/consumer.c built out
#     of the tree with pkg-config, shared and static (--static), and run on
#     the embedded backend under a private root; tests/cxx/all_headers.cc
#     built the same way with g++; every installed header compiles on its
#     own against the installed tree alone; the man pages render without a
#     warning; systemd-analyze verifies the unit (each where the tool
#     exists); uninstall leaves no file behind.
# Writes only under a temporary directory (and into build/, where make
# install builds what is missing); never installs anywhere else, never runs
# a service. Exit status 0 pass, 1 fail (each failure on one line), 77
# skipped (no pkg-config, or a build without the shared library).
set -u
cd "$(dirname "$0")/../.."
repo=$PWD
unset GHOST_KERNEL GHOST_EMU_ROOT
# make takes these from the environment too: only the ones given here count.
unset BUILD DESTDIR PREFIX BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR PKGCONFIGDIR SYSCONFDIR SYSTEMDUNITDIR
cc=${CC:-cc} cxx=${CXX:-g++}
make=(make --no-print-directory -s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
if ! command -v pkg-config >/dev/null; then
	echo "no pkg-config"
	exit 77
fi
if [ ! -e build/lib/libghost.so ]; then
	echo "no build/lib/libghost.so (a STATIC=1 build?)"
	exit 77
fi

# Every file under a tree (files and links), relative to it.
tree_files() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
}
# "readelf -d" SONAME and NEEDED entries of a binary.
dyn() {
	readelf -d "$1" 2>/dev/null | sed -n "s/.*($2).*\[\(.*\)\].*/\1/p"
}

# ---- the header list ----
"${make[@]}" check-headers || fail "make check-headers fails on this tree"
out=$("${make[@]}" check-headers GHOST_PUBLIC_HEADERS="include/ghost/abi.h include/ghost/gone.h" 2>&1) &&
	fail "make check-headers passes with a list that lacks headers"
grep -q "include/ghost/agent.h is in neither" <<<"$out" ||
	fail "make check-headers does not name include/ghost/agent.h as missing from the list: $out"
grep -q "include/ghost/gone.h is listed .* but does not exist" <<<"$out" ||
	fail "make check-headers does not name include/ghost/gone.h as listed but absent: $out"

# ---- a staged install: PREFIX=/usr, a LIBDIR of its own, DESTDIR ----
stage=$tmp/stage
staged=(PREFIX=/usr LIBDIR=/usr/lib64 DESTDIR="$stage")
if ! "${make[@]}" install "${staged[@]}" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	echo "FAIL: make install ${staged[*]}"
	exit 1
fi
# The release, from the library's file name.
real=$(basename "$(readlink -f build/lib/libghost.so)")
version=${real#libghost.so.}
major=${version%%.*}
{
	printf 'usr/bin/%s\n' ghost-agent ghost-bench ghost-sim ghost-trace ghost-workload ghostctl
	for h in include/ghost/*.h; do echo "usr/$h"; done # all public: mk/install.mk lists none private
	printf 'usr/lib/systemd/system/ghost-agent@.service\n'
	printf 'usr/lib64/%s\n' libghost.a libghost.so "libghost.so.$major" "libghost.so.$version" \
		libghost-agent.a libghost-preload.so pkgconfig/libghost.pc pkgconfig/libghost-agent.pc
	printf 'usr/share/man/%s\n' man1/ghost-bench.1 man1/ghost-sim.1 man1/ghost-trace.1 man1/ghost-workload.1 man3/libghost.3 \
		man8/ghost-agent.8 man8/ghostctl.8
} | sort >"$tmp/want"
tree_files "$stage" >"$tmp/got"
diff -u "$tmp/want" "$tmp/got" >"$tmp/diff" ||
	fail "the staged install is not the expected file list (- expected, + installed): $(cat "$tmp/diff")"
lib64=$stage/usr/lib64
[ "$(readlink "$lib64/libghost.so")" = "libghost.so.$major" ] || fail "libghost.so does not point at libghost.so.$major"
[ "$(readlink "$lib64/libghost.so.$major")" = "libghost.so.$version" ] ||
	fail "libghost.so.$major does not point at libghost.so.$version"
[ "$(dyn "$lib64/libghost.so.$version" SONAME)" = "libghost.so.$major" ] ||
	fail "the installed library's soname is not libghost.so.$major"
cmp -s "$lib64/libghost.so.$version" "build/lib/$real" || fail "the installed library is not the built one"
pc=$lib64/pkgconfig/libghost.pc
grep -qx 'prefix=/usr' "$pc" && grep -qx 'libdir=${prefix}/lib64' "$pc" &&
	grep -qx 'includedir=${prefix}/include' "$pc" && grep -qx "Version: $version" "$pc" ||
	fail "libghost.pc does not hold the install's paths and version: $(cat "$pc")"
got=$(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$lib64/pkgconfig pkg-config --cflags --libs libghost | sed "s/ *$//")
[ "$got" = "-I$stage/usr/include -L$stage/usr/lib64 -lghost" ] ||
	fail "pkg-config --cflags --libs of the staged tree gives \"$got\""
got=$(PKG_CONFIG_LIBDIR=$lib64/pkgconfig pkg-config --static --libs libghost)
[ "$(tr ' ' '\n' <<<"$got" | grep -cxE -- '-lghost|-pthread|-lm')" -eq 3 ] ||
	fail "pkg-config --static --libs gives \"$got\" (want -lghost -pthread -lm)"
unit=$stage/usr/lib/systemd/system/ghost-agent@.service
grep -qx 'ExecStart=/usr/bin/ghost-agent $GHOST_AGENT_OPTS' "$unit" &&
	grep -qx 'EnvironmentFile=/etc/ghost-agent/%i.conf' "$unit" ||
	fail "the unit does not run /usr/bin/ghost-agent with /etc/ghost-agent/%i.conf"
grep -v '^#' "$unit" | grep -q '@[A-Z]*@' && fail "the unit still has a placeholder: $(grep '@[A-Z]*@' "$unit")"
"${make[@]}" uninstall "${staged[@]}" >/dev/null || fail "make uninstall ${staged[*]}"
left=$(tree_files "$stage")
[ -z "$left" ] || fail "make uninstall left files behind: $left"

# ---- an install into a temporary PREFIX, used ----
prefix=$tmp/prefix
if ! "${make[@]}" install PREFIX="$prefix" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	echo "FAIL: make install PREFIX=$prefix"
	exit 1
fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
got=$(pkg-config --modversion libghost)
[ "$got" = "$version" ] || fail "pkg-config --modversion libghost says $got, the library is $version"
mkdir "$tmp/out-of-tree"
cd "$tmp/out-of-tree" || exit 1
# Shared: the program needs libghost.so.MAJOR and finds the installed one.
if $cc -std=c11 -Wall -Wextra -Werror "$repo/tests/package/consumer.c" \
	$(pkg-config --cflags --libs libghost) -o consumer-shared; then
	[ "$(dyn consumer-shared NEEDED | grep -c "^libghost.so.$major\$")" = 1 ] ||
		fail "the shared consumer does not need libghost.so.$major"
	LD_LIBRARY_PATH=$prefix/lib ldd consumer-shared | grep -q "libghost.so.$major => $prefix/lib/" ||
		fail "the shared consumer does not load $prefix/lib/libghost.so.$major"
	mkdir root-shared
	out=$(LD_LIBRARY_PATH=$prefix/lib ./consumer-shared "$PWD/root-shared" 2>&1) ||
		fail "the shared consumer failed: $out"
	grep -q "^libghost $version," <<<"$out" || fail "the shared consumer was compiled against another release: $out"
else
	fail "cc consumer.c \$(pkg-config --cflags --libs libghost)"
fi
# Static: no libghost.so at run time.
if $cc -std=c11 -Wall -Wextra -Werror -static "$repo/tests/package/consumer.c" \
	$(pkg-config --static --cflags --libs libghost) -o consumer-static; then
	[ -z "$(dyn consumer-static NEEDED)" ] || fail "the static consumer needs shared libraries: $(dyn consumer-static NEEDED)"
	mkdir root-static
	out=$(./consumer-static "$PWD/root-static" 2>&1) || fail "the static consumer failed: $out"
else
	fail "cc -static consumer.c \$(pkg-config --static --cflags --libs libghost)"
fi
# An agent of one's own (ghost_agent_main, libghost-agent) with the example policy built in,
# and the example as a plugin loaded by it and by the installed ghost-agent: each lists
# the policy with its parameter.
if $cc -std=gnu11 -Wall -Wextra -Werror "$repo/examples/rr_agent.c" "$repo/examples/round_robin.c" \
	$(pkg-config --cflags --libs libghost-agent) -o rr-agent; then
	out=$(LD_LIBRARY_PATH=$prefix/lib ./rr-agent --list-policies 2>&1) || fail "rr-agent --list-policies: $out"
	[ "$(head -n 1 <<<"$out")" = rr ] && grep -q -- "-o slice=10ms" <<<"$out" ||
		fail "rr-agent does not list its policy first: $out"
else
	fail "cc rr_agent.c round_robin.c \$(pkg-config --cflags --libs libghost-agent)"
fi
if $cc -std=gnu11 -Wall -Wextra -Werror -shared -fPIC "$repo/examples/round_robin.c" \
	$(pkg-config --cflags libghost) -o round_robin.so; then
	for agent in "$prefix/bin/ghost-agent" ./rr-agent; do
		out=$(LD_LIBRARY_PATH=$prefix/lib "$agent" --policy ./round_robin.so --list-policies 2>&1) ||
			fail "$agent --policy ./round_robin.so --list-policies: $out"
		[ "$(head -n 1 <<<"$out")" = rr ] || fail "$agent does not list the plugin first: $out"
	done
else
	fail "cc -shared round_robin.c \$(pkg-config --cflags libghost)"
fi
# C++.
if command -v "$cxx" >/dev/null; then
	if "$cxx" -std=c++17 -Wall -Wextra -Werror "$repo/tests/cxx/all_headers.cc" \
		$(pkg-config --cflags --libs libghost) -o all_headers; then
		out=$(LD_LIBRARY_PATH=$prefix/lib ./all_headers 2>&1) || fail "tests/cxx/all_headers.cc failed: $out"
	else
		fail "$cxx tests/cxx/all_headers.cc \$(pkg-config --cflags --libs libghost)"
	fi
fi
# Each installed header on its own, from the installed tree only (so none
# includes a header that is not installed).
for h in "$prefix"/include/ghost/*.h; do
	name=ghost/$(basename "$h")
	if printf '#include <%s>\n' "$name" | $cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags libghost) \
		-M -MT x -x c - >"$tmp/deps"; then
		outside=$(tr ' \\' '\n\n' <"$tmp/deps" | grep '/ghost/[^/]*\.h$' | grep -v "^$prefix/include/ghost/")
		[ -z "$outside" ] || fail "the installed <$name> includes headers from elsewhere: $outside"
	else
		fail "the installed <$name> does not compile on its own"
	fi
done
cd "$repo" || exit 1

# The man pages: found where man looks, rendered without a warning, each
# program's naming it; libghost(3) names every installed header.
man_dir=$prefix/share/man
for page in ghost-agent.8 ghostctl.8 ghost-workload.1 ghost-bench.1 ghost-trace.1 ghost-sim.1 libghost.3; do
	file=$man_dir/man${page##*.}/$page
	[ -s "$file" ] || { fail "no man page $page"; continue; }
	if command -v man >/dev/null && command -v groff >/dev/null; then
		[ "$(MANPATH=$man_dir man -w "${page%.*}")" = "$file" ] || fail "man -w ${page%.*} does not find $file"
		MANWIDTH=80 MANPAGER=cat man --warnings -l "$file" >"$tmp/page" 2>"$tmp/warnings" ||
			fail "man -l $page failed"
		[ ! -s "$tmp/warnings" ] || fail "man -l $page warns: $(cat "$tmp/warnings")"
		groff -man -Tutf8 -ww -z "$file" 2>"$tmp/warnings"
		[ ! -s "$tmp/warnings" ] || fail "groff -ww (every warning) on $page: $(cat "$tmp/warnings")"
		grep -q "^NAME" "$tmp/page" && grep -q "^SYNOPSIS" "$tmp/page" || fail "$page has no NAME or SYNOPSIS"
	fi
done
for h in "$prefix"/include/ghost/*.h; do
	grep -qF "<ghost/$(basename "$h")>" "$man_dir/man3/libghost.3" || fail "libghost(3) does not name <ghost/$(basename "$h")>"
done
# A program's page holds every option of its --help.
for page in ghost-agent.8 ghostctl.8 ghost-workload.1 ghost-bench.1 ghost-trace.1 ghost-sim.1; do
	for opt in $("$prefix/bin/${page%.*}" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "${opt//-/\\-}" "$man_dir/man${page##*.}/$page" || fail "${page%.*}(${page##*.}) lacks $opt"
	done
done

# The unit, verified where systemd-analyze exists (its man page found through MANPATH).
unit=$prefix/lib/systemd/system/ghost-agent@.service
if command -v systemd-analyze >/dev/null; then
	out=$(MANPATH=$man_dir systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
fi

"${make[@]}" uninstall PREFIX="$prefix" >/dev/null || fail "make uninstall PREFIX=$prefix"
left=$(tree_files "$prefix")
[ -z "$left" ] || fail "make uninstall left files behind: $left"

[ $fails -eq 0 ] || exit 1
echo "installed, used (shared, static, C++), uninstalled: libghost $version"
