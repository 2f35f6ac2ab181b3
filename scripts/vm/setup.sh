#!/usr/bin/env bash
# scripts/vm/setup.sh - prepares this machine for the sched_ext test tier, which
# boots a sched_ext-capable Linux under qemu (software emulation) and runs static
# test binaries inside it (scripts/vm/run.sh).
#
# On Debian 12 it:
#   - adds the <codename>-backports, sid and trixie-backports apt suites, by
#     copying the stanza of /etc/apt/sources.list.d/debian.sources that serves
#     <codename> and changing its Suites (sid and trixie-backports are pinned at
#     priority 50, so nothing is ever upgraded from them);
#   - installs qemu, busybox-static, cpio, clang-19, the libelf/zlib/zstd
#     development files, rt-tests (hackbench, run in the guest), and libbpf-dev +
#     bpftool from <codename>-backports;
#   - downloads (never installs) one cloud kernel per kernel line of
#     $GHOST_VM_LINES (default "sid 6.18 6.16"): "sid" is the newest sid kernel,
#     "X.Y" the newest X.Y.z any configured suite has (trixie-backports carries
#     6.16 on); each must have CONFIG_SCHED_CLASS_EXT=y. It keeps their vmlinuz
#     and config in the cache, and for the first line also vmlinux (taken out of
#     vmlinuz) and vmlinux.h (from its BTF): the one BPF object is compiled
#     against that and loads on all of them.
#
# Cache: $GHOST_VM_CACHE (default /var/cache/ghost-vm). After a run it holds
#   kernels/<release>/  vmlinuz and config of each line (the first also
#                       vmlinux, vmlinux.h)
#   vmlinuz, config, vmlinux, vmlinux.h -> kernels/<first line's release>/...
#   kernel-version      the first line's release and the Debian package it came from
#   kernel-lines        one line per kernel line: "LINE RELEASE PACKAGE VERSION"
# Idempotent: when everything is present it touches neither apt nor the network.
# GHOST_VM_REFRESH=1 looks for newer kernels even if some are cached.
#
# Needs root for the apt work (re-runs itself through `sudo -n` if it can).
# Exit status: 0 ready; 77 this machine cannot do it (not root, the package
# archive unreachable, no kernel with sched_ext for the first line); 1 anything
# else. A later line without a usable kernel is left out with a message.
set -euo pipefail

CACHE=${GHOST_VM_CACHE:-/var/cache/ghost-vm}
SOURCES_DIR=/etc/apt/sources.list.d
OUR_SOURCES=$SOURCES_DIR/ghost-vm.sources
OUR_PIN=/etc/apt/preferences.d/ghost-vm-sid
# The cloud flavour is small and has what a virtual machine needs built in
# (virtio, the 8250 serial console); GHOST_VM_FLAVOUR=amd64 picks the generic one.
FLAVOUR=${GHOST_VM_FLAVOUR:-cloud-amd64}
LINES=${GHOST_VM_LINES:-sid 6.18 6.16}
# The suite that carries the LTS kernel lines (6.16 on) for Debian 13.
LTS_SUITE=trixie-backports
LIBBPF_MIN=1.4
BPFTOOL_MIN=7.4

say() { echo "vm-setup: $*"; }
cannot() {
	echo "vm-setup: cannot prepare the sched_ext virtual machine: $*" >&2
	exit 77
}
die() {
	echo "vm-setup: error: $*" >&2
	exit 1
}

# shellcheck source=/dev/null
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || cannot "not a Debian system (no VERSION_CODENAME in /etc/os-release)"
command -v apt-get >/dev/null || cannot "no apt-get: this script supports Debian only"
backports=$codename-backports

# ---------------------------------------------------------------- what is missing

# Packages from the release itself, and the two that must come from backports
# (the release's libbpf 1.1 is too old for sched_ext's struct_ops).
base_pkgs=(qemu-system-x86 busybox-static cpio zstd clang-19 gcc libc6-dev make
	libelf-dev zlib1g-dev libzstd-dev pkg-config rt-tests)
bp_pkgs=(libbpf-dev bpftool)

pkg_version() {
	{ dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$1 == "ii" { print $2 }'
}

missing_pkgs() {
	local p
	for p in "${base_pkgs[@]}"; do
		[ -n "$(pkg_version "$p")" ] || echo "$p"
	done
}
# Prints the backports packages that are absent or too old.
missing_bp_pkgs() {
	local v
	v=$(pkg_version libbpf-dev)
	if [ -z "$v" ] || ! dpkg --compare-versions "${v#*:}" ge "$LIBBPF_MIN"; then echo libbpf-dev; fi
	v=$(pkg_version bpftool)
	if [ -z "$v" ] || ! dpkg --compare-versions "${v#*:}" ge "$BPFTOOL_MIN"; then echo bpftool; fi
}

# The suites to add: the release's backports, sid, and the one with the LTS
# kernel lines (once: on Debian 13 it is the release's backports).
extra_suites() {
	local s="$backports sid"
	[ "$LTS_SUITE" = "$backports" ] || s="$s $LTS_SUITE"
	echo "$s"
}

# The deb822 stanzas we want: the release's own stanza with Suites changed.
# Prints nothing if /etc/apt/sources.list.d/debian.sources has no such stanza.
wanted_sources() {
	local src=$SOURCES_DIR/debian.sources
	[ -r "$src" ] || return 0
	awk -v rel="$codename" -v extra="$(extra_suites)" '
		BEGIN { RS = ""; FS = "\n" }
		{
			found = 0
			for (i = 1; i <= NF; i++)
				if ($i ~ /^Suites:/) {
					n = split(substr($i, 8), s, /[ \t]+/)
					for (j = 1; j <= n; j++) if (s[j] == rel) found = 1
				}
			if (!found || done) next
			done = 1
			n = split(extra, suites, " ")
			for (k = 1; k <= n; k++) {
				if (k > 1) print ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^#/) continue
					if ($i ~ /^Suites:/) print "Suites: " suites[k]
					else print $i
				}
			}
		}' "$src"
}

# The same for an old-style /etc/apt/sources.list: its "deb URI <codename> ..."
# line, once with each suite.
wanted_list_lines() {
	[ -r /etc/apt/sources.list ] || return 0
	awk -v rel="$codename" -v extra="$(extra_suites)" '
		$1 == "deb" && !done {
			for (i = 2; i <= NF; i++) if ($i == rel) {
				done = 1
				n = split(extra, suites, " ")
				for (k = 1; k <= n; k++) {
					line = $0
					sub(" " rel " ", " " suites[k] " ", line); print line
				}
				break
			}
		}' /etc/apt/sources.list
}

pin_text() {
	cat <<-'EOF'
		# Added by scripts/vm/setup.sh (libghost): sid is only a place to download
		# a sched_ext kernel from; never install or upgrade anything from it.
		Package: *
		Pin: release a=unstable
		Pin-Priority: 50
	EOF
	[ "$LTS_SUITE" = "$backports" ] || cat <<-EOF

		# The same for the suite the LTS kernel lines come from.
		Package: *
		Pin: release n=$LTS_SUITE
		Pin-Priority: 50
	EOF
}

# Every line of $LINES cached, in that order, the first with its vmlinux.h.
cache_ready() {
	[ -s "$CACHE/kernel-version" ] && [ -r "$CACHE/vmlinuz" ] && [ -s "$CACHE/vmlinux.h" ] &&
		grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$CACHE/config" 2>/dev/null || return 1
	# shellcheck disable=SC2086 # $LINES is a list
	[ "$(awk '{ print $1 }' "$CACHE/kernel-lines" 2>/dev/null | tr '\n' ' ')" = "$(printf '%s ' $LINES)" ] ||
		return 1
	local line kver rest
	while read -r line kver rest; do
		# "-": no usable kernel for that line when it was looked for.
		[ "$kver" = - ] || [ -r "$CACHE/kernels/$kver/vmlinuz" ] || return 1
	done <"$CACHE/kernel-lines"
}

sources_file=$OUR_SOURCES
sources_text=$(wanted_sources)
if [ -z "$sources_text" ]; then
	sources_file=$SOURCES_DIR/ghost-vm.list
	sources_text=$(wanted_list_lines)
fi

need_sources=0 need_pin=0
if [ -n "$sources_text" ] && [ "$(cat "$sources_file" 2>/dev/null)" != "$sources_text" ]; then
	need_sources=1
fi
[ "$(cat "$OUR_PIN" 2>/dev/null)" = "$(pin_text)" ] || need_pin=1
mapfile -t need_base < <(missing_pkgs)
mapfile -t need_bp < <(missing_bp_pkgs)
need_kernel=0
if [ "${GHOST_VM_REFRESH:-0}" = 1 ] || ! cache_ready; then need_kernel=1; fi

if [ $need_sources = 0 ] && [ $need_pin = 0 ] && [ ${#need_base[@]} = 0 ] &&
	[ ${#need_bp[@]} = 0 ] && [ $need_kernel = 0 ]; then
	say "nothing to do: tools installed, kernels $(awk '{ printf "%s%s", sep, $2; sep = ", " }' "$CACHE/kernel-lines") cached in $CACHE"
	exit 0
fi

# ---------------------------------------------------------------- root from here on

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		exec sudo -n env GHOST_VM_CACHE="$CACHE" GHOST_VM_REFRESH="${GHOST_VM_REFRESH:-0}" \
			GHOST_VM_FLAVOUR="$FLAVOUR" bash "$0" "$@"
	fi
	missing="${need_base[*]} ${need_bp[*]}"
	[ $need_kernel = 1 ] && missing="$missing the kernels ($LINES)"
	[ $need_sources = 1 ] || [ $need_pin = 1 ] && missing="$missing the apt sources"
	cannot "needs root to install what is missing:$(echo " $missing" | tr -s ' ')"
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for a dpkg lock held by another apt run rather than fail at once.
apt_quiet=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)

if [ $need_sources = 1 ] || [ $need_pin = 1 ]; then
	[ -n "$sources_text" ] ||
		cannot "found no '$codename' entry in $SOURCES_DIR/debian.sources or /etc/apt/sources.list to copy for $backports and sid"
	if [ $need_sources = 1 ]; then
		printf '%s\n' "$sources_text" >"$sources_file"
		say "wrote $sources_file ($(extra_suites | sed "s/ /, /g"), copied from the $codename entry)"
	fi
	pin_text >"$OUR_PIN"
	say "wrote $OUR_PIN (sid${LTS_SUITE:+ and $LTS_SUITE} pinned at priority 50)"
fi

updated=0
apt_update() {
	[ $updated = 1 ] && return 0
	say "apt-get update (${SECONDS}s)"
	local log
	log=$(mktemp)
	if ! apt-get "${apt_quiet[@]}" -o Acquire::http::Timeout=30 -o Acquire::Retries=2 update >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		cannot "apt-get update failed: is the package archive reachable?"
	fi
	if grep -E '^(W|E): (Failed to fetch|Some index files failed)' "$log" >&2; then
		rm -f "$log"
		cannot "apt-get update could not fetch every index: is the package archive reachable?"
	fi
	rm -f "$log"
	updated=1
}

apt_install() {
	# apt_install [-t SUITE] PACKAGE...; apt's output only when it fails.
	local log
	log=$(mktemp)
	if ! apt-get "${apt_quiet[@]}" install -y --no-install-recommends "$@" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		cannot "apt-get install $* failed"
	fi
	grep -E '^[0-9]+ upgraded, ' "$log" | sed 's/^/vm-setup:   /'
	rm -f "$log"
}

if [ ${#need_base[@]} -gt 0 ] || [ ${#need_bp[@]} -gt 0 ] || [ $need_sources = 1 ]; then
	apt_update
fi
if [ ${#need_base[@]} -gt 0 ]; then
	say "installing ${need_base[*]}"
	apt_install "${need_base[@]}"
fi
if [ ${#need_bp[@]} -gt 0 ]; then
	say "installing ${need_bp[*]} from $backports"
	# Without Upgrade-By-Source-Package=false apt would also upgrade the other
	# installed packages built from bpftool's source (linux-libc-dev, linux-perf).
	apt_install -t "$backports" -o APT::Get::Upgrade-By-Source-Package=false "${need_bp[@]}"
fi
for p in "${bp_pkgs[@]}"; do say "$p $(pkg_version "$p")"; done
say "packages ready (${SECONDS}s)"

[ $need_kernel = 1 ] || {
	say "kernels already cached in $CACHE"
	exit 0
}

# ---------------------------------------------------------------- the kernels

mkdir -p "$CACHE/debs" "$CACHE/kernels"
chmod 755 "$CACHE" "$CACHE/debs" "$CACHE/kernels"
# apt downloads as its sandbox user when that user may write there.
if id _apt >/dev/null 2>&1; then chown _apt "$CACHE/debs"; fi
exec 9>"$CACHE/.lock"
flock 9

# The candidate kernels of one line, newest first: "linux-image-<abi>-<flavour> <version>".
# sid: the sid ones; X.Y: those of release X.Y in any configured suite.
line_kernels() {
	local line=$1 names re suite_re
	if [ "$line" = sid ]; then
		re="^linux-image-[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9]+)?(\+[a-z0-9.]+)?-$FLAVOUR\$"
		suite_re='[ /](sid|unstable)[/ ]'
	else
		re="^linux-image-${line//./\\.}(\.[0-9]+)?(-[0-9]+)?(\+[a-z0-9.]+)?-$FLAVOUR\$"
		suite_re='.'
	fi
	names=$(apt-cache search --names-only "^linux-image-[0-9].*-$FLAVOUR\$" | awk '{ print $1 }' |
		grep -E -- "$re" || true)
	[ -n "$names" ] || return 0
	# apt-cache madison: "name | version | <archive> <suite>/main amd64 Packages",
	# one line per version and suite; one call for all names (each call reads
	# the whole index).
	# shellcheck disable=SC2086
	apt-cache madison $names 2>/dev/null |
		awk -F'|' -v suite_re="$suite_re" '$3 ~ suite_re {
			gsub(/ /, "", $1); gsub(/ /, "", $2)
			if (!seen[$1 " " $2]++) print $1, $2
		}' | sort -rV -k2,2
}

# Unpacks one kernel's packages into a temporary tree; prints the tree.
unpack_kernel() {
	local image=$1 version=$2 abi tree p
	abi=${image#linux-image-}
	local pkgs=("$image=$version")
	# Newer Debian kernels split the image: the thin linux-image-* package
	# depends on linux-binary-* (vmlinuz) and linux-base-* (config); the
	# modules (linux-modules-*) are not needed, the cloud flavour has virtio
	# and the serial console built in.
	for p in "linux-binary-$abi" "linux-base-$abi"; do
		if apt-cache show "$p=$version" 2>/dev/null | grep -q "^Package: "; then pkgs+=("$p=$version"); fi
	done
	say "downloading ${pkgs[*]}" >&2
	(cd "$CACHE/debs" && apt-get "${apt_quiet[@]}" download "${pkgs[@]}" >/dev/null) ||
		cannot "apt-get download ${pkgs[*]} failed: is the package archive reachable?"
	tree=$(mktemp -d "$CACHE/unpack.XXXXXX")
	for p in "${pkgs[@]}"; do
		# apt-get download writes NAME_VERSION_ARCH.deb, a ':' in VERSION as %3a.
		local debs=("$CACHE/debs/${p%%=*}_${version//:/%3a}_"*.deb)
		[ -f "${debs[0]}" ] || die "apt-get download left no ${p%%=*} package in $CACHE/debs"
		dpkg -x "${debs[0]}" "$tree"
	done
	echo "$tree"
}

# Writes the ELF vmlinux inside a bzImage to $2: the compressed payload is
# located through the setup header (payload_offset/payload_length, boot
# protocol 2.08+), else by scanning for the compressor's magic.
extract_vmlinux() {
	local img=$1 out=$2
	u32() { od -An -t u4 -j "$1" -N 4 "$img" | tr -d ' '; }
	u8() { od -An -t u1 -j "$1" -N 1 "$img" | tr -d ' '; }
	try() { # try OFFSET [LENGTH]
		local off=$1 len=${2:-} magic
		magic=$(od -An -t x1 -j "$off" -N 6 "$img" | tr -d ' \n')
		local cat=(tail -c +$((off + 1)) "$img")
		local dec
		case $magic in
		28b52ffd*) dec=(zstd -dcq) ;;
		fd377a585a00) dec=(xz -dcq) ;;
		1f8b*) dec=(gzip -dcq) ;;
		*) return 1 ;;
		esac
		if [ -n "$len" ]; then
			"${cat[@]}" | head -c "$len" | "${dec[@]}" >"$out" 2>/dev/null || true
		else
			"${cat[@]}" | "${dec[@]}" >"$out" 2>/dev/null || true
		fi
		[ "$(od -An -t x1 -N 4 "$out" 2>/dev/null | tr -d ' ')" = 7f454c46 ]
	}
	local setup_sects base
	if [ "$(od -An -c -j 514 -N 4 "$img" | tr -d ' ')" = HdrS ]; then
		setup_sects=$(u8 497)
		[ "$setup_sects" -eq 0 ] && setup_sects=4
		base=$(((setup_sects + 1) * 512))
		try $((base + $(u32 584))) "$(u32 588)" && return 0
	fi
	local off
	while read -r off; do
		try "$off" && return 0
	done < <(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$img" | cut -d: -f1)
	return 1
}

# fetch_line LINE PRIMARY: caches the newest kernel of LINE with sched_ext on and
# prints "LINE RELEASE PACKAGE VERSION" ("LINE - none -" when it has none). The
# primary line also gets vmlinux and vmlinux.h.
fetch_line() {
	local line=$1 primary=$2 c image version tree config vmlinuz kver dir
	local candidates=()
	mapfile -t candidates < <(line_kernels "$line")
	if [ ${#candidates[@]} = 0 ]; then
		say "kernel line $line: no linux-image-*-$FLAVOUR package in the configured suites" >&2
		echo "$line - none -"
		return 0
	fi
	for c in "${candidates[@]}"; do
		image=${c% *} version=${c#* }
		tree=$(unpack_kernel "$image" "$version")
		config=$(find "$tree" -path '*/lib/modules/*/config' -o -name 'config-*' -path '*/boot/*' | head -n 1)
		vmlinuz=$(find "$tree" -path '*/lib/modules/*/vmlinuz' -o -name 'vmlinuz-*' -path '*/boot/*' | head -n 1)
		if [ -z "$config" ] || [ -z "$vmlinuz" ]; then
			rm -rf "$tree"
			die "$image $version: found no vmlinuz and config in its packages"
		fi
		if grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$config"; then
			break
		fi
		say "$image $version: $(grep 'CONFIG_SCHED_CLASS_EXT' "$config" || echo 'no CONFIG_SCHED_CLASS_EXT'): not usable" >&2
		rm -rf "$tree"
		tree=""
	done
	if [ -z "$tree" ]; then
		say "kernel line $line: no $FLAVOUR kernel has CONFIG_SCHED_CLASS_EXT=y (tried: ${candidates[*]})" >&2
		echo "$line - none -"
		return 0
	fi
	if [[ $vmlinuz == */lib/modules/* ]]; then
		kver=$(basename "$(dirname "$vmlinuz")")
	else
		kver=${vmlinuz##*/vmlinuz-}
	fi
	dir=$CACHE/kernels/$kver
	rm -rf "$dir.new"
	mkdir -p "$dir.new"
	install -m 644 "$vmlinuz" "$dir.new/vmlinuz"
	install -m 644 "$config" "$dir.new/config"
	rm -rf "$tree"
	say "kernel line $line: $kver ($image $version), CONFIG_SCHED_CLASS_EXT=y" >&2
	if [ "$primary" = 1 ]; then
		say "extracting vmlinux from vmlinuz" >&2
		extract_vmlinux "$dir.new/vmlinuz" "$dir.new/vmlinux" ||
			die "could not extract an ELF vmlinux from $dir.new/vmlinuz"
		say "generating vmlinux.h from its BTF" >&2
		local bpftool
		bpftool=$(command -v bpftool || echo /usr/sbin/bpftool)
		"$bpftool" btf dump file "$dir.new/vmlinux" format c >"$dir.new/vmlinux.h.tmp" ||
			die "bpftool could not dump the BTF of $dir.new/vmlinux"
		mv "$dir.new/vmlinux.h.tmp" "$dir.new/vmlinux.h"
		grep -q 'struct sched_ext_ops {' "$dir.new/vmlinux.h" ||
			die "vmlinux.h has no struct sched_ext_ops: the kernel's BTF lacks sched_ext"
	fi
	chmod 644 "$dir.new"/*
	rm -rf "$dir"
	mv "$dir.new" "$dir"
	chmod 755 "$dir"
	echo "$line $kver $image $version"
}

apt_update
lines_file=$CACHE/kernel-lines.tmp
: >"$lines_file"
primary=1
for line in $LINES; do
	fetch_line "$line" "$primary" >>"$lines_file"
	if [ $primary = 1 ]; then
		read -r _ kver image version <"$lines_file"
		[ "$kver" != - ] ||
			cannot "no $FLAVOUR kernel of line $line has CONFIG_SCHED_CLASS_EXT=y (is its suite reachable? see $sources_file)"
		dir=$CACHE/kernels/$kver
		for f in vmlinuz vmlinux vmlinux.h config; do
			[ -e "$dir/$f" ] && ln -sfn "kernels/$kver/$f" "$CACHE/$f"
		done
		printf '%s\n%s %s\n' "$kver" "$image" "$version" >"$CACHE/kernel-version.tmp"
		chmod 644 "$CACHE/kernel-version.tmp"
		mv "$CACHE/kernel-version.tmp" "$CACHE/kernel-version"
	fi
	primary=0
done
chmod 644 "$lines_file"
mv "$lines_file" "$CACHE/kernel-lines"
# Only the chosen kernels' packages and directories are worth keeping.
keep=$(awk '$2 != "-" { print $2 }' "$CACHE/kernel-lines")
for d in "$CACHE"/kernels/*/; do
	d=${d%/}
	grep -qxF "${d##*/}" <<<"$keep" || rm -rf "$d"
done
for deb in "$CACHE"/debs/*.deb; do
	[ -e "$deb" ] || continue
	k=0
	while read -r kv; do
		[[ $deb == *"${kv%-"$FLAVOUR"}"* ]] && k=1
	done <<<"$keep"
	[ $k = 1 ] || rm -f "$deb"
done
say "ready: kernels $(awk '$2 != "-" { printf "%s%s", sep, $2; sep = ", " }' "$CACHE/kernel-lines") in $CACHE ($(du -sh "$CACHE" | cut -f1)), in ${SECONDS}s"
