#!/usr/bin/env bash
# kernels/scx/hello/build.sh - builds the hello sched_ext scheduler and its test.
# Usage: kernels/scx/hello/build.sh OUTDIR
# Writes OUTDIR/scx_hello.bpf.o (BPF, against the virtual machine kernel's
# vmlinux.h) and OUTDIR/hello_test (static, with the BPF object built in).
#
# vmlinux.h: $VMLINUX_H, else $GHOST_VM_CACHE/vmlinux.h (default cache
# /var/cache/ghost-vm), as scripts/vm/setup.sh leaves it. Tools: $CLANG
# (default clang-19: sched_ext's 64-bit enums need clang >= 15) and $CC (gcc),
# with libbpf >= 1.4 (libbpf-dev from bookworm-backports) and the static
# libelf, zlib and zstd libraries.
set -euo pipefail
[ $# -eq 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
CLANG=${CLANG:-clang-19}
CC=${CC:-gcc}
vmlinux_h=${VMLINUX_H:-${GHOST_VM_CACHE:-/var/cache/ghost-vm}/vmlinux.h}

fail() {
	echo "scx-hello build: $*" >&2
	exit 1
}
[ -r "$vmlinux_h" ] || fail "no vmlinux.h at $vmlinux_h (run scripts/vm/setup.sh, or set VMLINUX_H)"
command -v "$CLANG" >/dev/null || fail "no $CLANG (apt-get install clang-19)"
if [ ! -r /usr/include/bpf/bpf_helpers.h ] || [ ! -r /usr/include/bpf/libbpf.h ]; then
	fail "no libbpf headers (apt-get install -t bookworm-backports libbpf-dev)"
fi

# The object is compiled against a directory holding only vmlinux.h, so a
# stray vmlinux.h elsewhere cannot be picked up by mistake.
inc=$(mktemp -d)
trap 'rm -rf "$inc"' EXIT
ln -s "$(readlink -f "$vmlinux_h")" "$inc/vmlinux.h"

echo "  BPF     $out/scx_hello.bpf.o"
"$CLANG" -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wno-missing-declarations \
	-I"$inc" -I"$here" -I"$here/.." -c "$here/scx_hello.bpf.c" -o "$out/scx_hello.bpf.o"

echo "  CCLD    $out/hello_test"
"$CC" -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -D_GNU_SOURCE -pthread -I"$here" \
	-DHELLO_BPF_OBJ="\"$out/scx_hello.bpf.o\"" \
	"$here/hello_test.c" -o "$out/hello_test" \
	-static -lbpf -lelf -lz -lzstd -lpthread
if readelf -l "$out/hello_test" | grep -q 'INTERP'; then
	fail "$out/hello_test is not statically linked"
fi
