#!/usr/bin/env bash
# scripts/scx-tests.sh - the sched_ext test tier: real-kernel tests in a
# virtual machine.
#
# 1. scripts/vm/setup.sh: the tools and a sid kernel with sched_ext, cached
#    (does nothing when all is there already);
# 2. kernels/scx/hello/build.sh: the hello scheduler and its static test,
#    into $BUILD/scx (BUILD defaults to build);
# 3. scripts/vm/run.sh: boots the kernel under qemu and runs the tests in it.
# Closes with one line "N passed, N failed, N skipped" counting the guest's
# VMTEST lines; exits non-zero if a test failed or the guest did not get
# through them. A machine that cannot do this at all (no root to install what
# is missing, the package archive unreachable, no sched_ext kernel in it)
# gets "0 passed, 0 failed, 1 skipped" and exit 0, with the reason above it.
set -u
cd "$(dirname "$0")/.." || exit 1
out=${BUILD:-build}/scx

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
t2=$(now)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
scripts/vm/run.sh "$out/hello_test" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
t3=$(now)
[ "$rc" -eq 77 ] && skipped "scripts/vm/run.sh cannot boot the virtual machine here (the reason is above)"

pass=$(grep -cE '^VMTEST [^ ]+ PASS$' "$log")
fail=$(grep -cE '^VMTEST [^ ]+ FAIL$' "$log")
skip=$(grep -cE '^VMTEST [^ ]+ SKIP$' "$log")
# A guest that did not boot or died half-way fails the tier even though no
# test line says FAIL.
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "scx-tests: setup $((t1 - t0))s, build $((t2 - t1))s, virtual machine $((t3 - t2))s"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
