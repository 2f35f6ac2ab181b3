#!/usr/bin/env bash
# scripts/scx-tests.sh - the sched_ext test tier: real-kernel tests in a
# virtual machine.
#
# 1. scripts/vm/setup.sh: the tools and one kernel with sched_ext per kernel
#    line (the newest sid one, 6.18 LTS, 6.16), cached (does nothing when all is
#    there already);
# 2. kernels/scx/hello/build.sh: the hello scheduler and its static test,
#    into $BUILD/scx (BUILD defaults to build);
# 3. make SCX=1 STATIC=1 into $BUILD/scx-static: the library with the sched_ext
#    backend, the static tools (ghost-agent, ghostctl, ghost-workload) and the
#    guest test programs kernels/scx/tests/*.c (the scx_abi_* ones each one
#    verdict on the fixture kernels/scx/tests/scx_abi.h); then the BPF objects
#    the tests use as data, kernels/scx/tests/*.bpf.c (scx_broken.bpf.c: one the
#    verifier refuses), compiled like the backend's own against the same
#    vmlinux.h;
# 4. scripts/vm/run.sh, once per cached kernel line (GHOST_SCX_LINES="sid 6.18"
#    picks some; GHOST_VM_KERNEL=FILE runs that kernel only): boots the kernel
#    under qemu and runs in it, in this order, hello_test, scx_abi_enclave and scx_abi_lifecycle, the other
#    compiled tests, the executable scripts kernels/scx/tests/*.sh
#    (scx_policies.sh and scx_kill.sh first), and scx_errors last, each with
#    its own VMTEST line; the tools go along as the directory /tests/bin, the
#    BPF objects and the scripts that are not executable (scx_lib.sh, which the
#    others source) as data files in /tests.
#    The same BPF object and programs go to every kernel.
#    GHOST_VM_TIMEOUT (default 900 s) bounds each guest,
#    GHOST_VM_TEST_TIMEOUT (default 240 s) each test.
# Says per kernel how many passed, and closes with one line "N passed, N
# failed, N skipped" counting the guests' VMTEST lines together; exits non-zero
# if a test failed or a guest did not get through them. A machine that cannot do this at all (no root to install what
# is missing, the package archive unreachable, no sched_ext kernel in it)
# gets "0 passed, 0 failed, 1 skipped" and exit 0, with the reason above it.
set -u
cd "$(dirname "$0")/.." || exit 1
out=${BUILD:-build}/scx
static=${BUILD:-build}/scx-static
jobs=$(nproc 2>/dev/null || echo 2)

skipped() {
	echo "scx-tests: skipped: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
failed() {
	echo "scx-tests: $*"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
now() { date +%s; }

t0=$(now)
scripts/vm/setup.sh
rc=$?
case $rc in
0) ;;
77) skipped "this machine cannot run the sched_ext virtual machine (the reason is above)" ;;
*) failed "scripts/vm/setup.sh failed (exit $rc)" ;;
esac
t1=$(now)

kernels/scx/hello/build.sh "$out" || failed "building the hello scheduler failed"
make -s -j"$jobs" BUILD="$static" SCX=1 STATIC=1 tools scx-tests >/dev/null ||
	failed "building the sched_ext backend, its static tools and tests failed (make BUILD=$static SCX=1 STATIC=1 tools scx-tests)"
# The tests' BPF objects, with the flags and the vmlinux.h directory of the
# Makefile's rule for ghost.bpf.o.
data=()
for src in kernels/scx/tests/*.bpf.c; do
	[ -e "$src" ] || continue
	obj=$static/scx/tests/$(basename "${src%.c}").o
	[ -r "$static/scx/include/vmlinux.h" ] || failed "no $static/scx/include/vmlinux.h after the sched_ext build"
	"${CLANG:-clang-19}" -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wno-missing-declarations \
		-I"$static/scx/include" -Ikernels/scx -c "$src" -o "$obj" ||
		failed "compiling $src failed"
	chmod a-x "$obj"
	data+=("$obj")
done
t2=$(now)

log=$(mktemp)
bin=$(mktemp -d)/bin
trap 'rm -rf "$log" "$(dirname "$bin")"' EXIT
mkdir -p "$bin"
for t in ghost-agent ghostctl ghost-workload ghost-trace; do
	cp "$static/bin/$t" "$bin/" || failed "no $static/bin/$t"
done
# Debian's hackbench (rt-tests, which scripts/vm/setup.sh installs): an unmodified,
# dynamically linked program; scripts/vm/run.sh takes its libraries along.
hackbench=$(command -v hackbench || true)
[ -n "$hackbench" ] || failed "no hackbench on this machine (apt-get install rt-tests; scripts/vm/setup.sh does)"
cp "$hackbench" "$bin/"
# hello_test first, then the scx_abi_* programs (the enclave alone and a task's
# first round trip first: the others build on what they check) and any other
# compiled test, the scripts (scx_policies.sh, scx_kill.sh, then the others),
# scx_errors last.
tests=("$out/hello_test")
for t in kernels/scx/tests/scx_abi_enclave.c kernels/scx/tests/scx_abi_lifecycle.c kernels/scx/tests/*.c; do
	[ -e "$t" ] || continue
	t=${t##*/}
	t=$static/scx/tests/${t%.c}
	case $t in */scx_errors | *.bpf) ;; *) [[ " ${tests[*]} " != *" $t "* ]] && tests+=("$t") ;; esac
done
for t in kernels/scx/tests/scx_policies.sh kernels/scx/tests/scx_kill.sh kernels/scx/tests/*.sh; do
	[ -e "$t" ] || continue
	if [ ! -x "$t" ]; then
		[[ " ${data[*]-} " != *" $t "* ]] && data+=("$t")
	elif [[ " ${tests[*]} " != *" $t "* ]]; then
		tests+=("$t")
	fi
done
[ -e kernels/scx/tests/scx_errors.c ] && tests+=("$static/scx/tests/scx_errors")
# The kernels: "LINE RELEASE" pairs.
cache=${GHOST_VM_CACHE:-/var/cache/ghost-vm}
kernels=()
if [ -n "${GHOST_VM_KERNEL:-}" ]; then
	kernels=("given $GHOST_VM_KERNEL")
else
	while read -r line kver _; do
		[ "$kver" != - ] || continue
		if [ -n "${GHOST_SCX_LINES:-}" ] && [[ " $GHOST_SCX_LINES " != *" $line "* ]]; then
			continue
		fi
		kernels+=("$line $cache/kernels/$kver/vmlinuz")
	done <"$cache/kernel-lines"
fi
[ ${#kernels[@]} -gt 0 ] || failed "no kernel to run (${GHOST_SCX_LINES:+GHOST_SCX_LINES=$GHOST_SCX_LINES, }$cache/kernel-lines)"

pass=0 fail=0 skip=0 summary=""
for k in "${kernels[@]}"; do
	line=${k%% *} kernel=${k#* }
	echo "scx-tests: kernel line $line: $kernel"
	GHOST_VM_KERNEL=$kernel GHOST_VM_TIMEOUT=${GHOST_VM_TIMEOUT:-900} \
		GHOST_VM_TEST_TIMEOUT=${GHOST_VM_TEST_TIMEOUT:-240} \
		scripts/vm/run.sh "${tests[@]}" ${data[@]+"${data[@]}"} "$bin" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 77 ] && skipped "scripts/vm/run.sh cannot boot the virtual machine here (the reason is above)"
	p=$(grep -cE '^VMTEST [^ ]+ PASS$' "$log")
	f=$(grep -cE '^VMTEST [^ ]+ FAIL$' "$log")
	s=$(grep -cE '^VMTEST [^ ]+ SKIP$' "$log")
	# A guest that did not boot or died half-way fails the tier even though no
	# test line says FAIL.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	release=$(sed -n 's/^VMTEST-BEGIN kernel \([^,]*\),.*/\1/p' "$log" | head -n 1)
	summary="$summary
scx-tests: ${release:-$kernel} ($line): $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
t3=$(now)
echo "scx-tests: setup $((t1 - t0))s, build $((t2 - t1))s, virtual machines $((t3 - t2))s$summary"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
