#!/usr/bin/env bash
# scripts/vm/run.sh - runs static test programs inside a virtual machine that
# boots the sched_ext kernel cached by scripts/vm/setup.sh.
#
# Usage: scripts/vm/run.sh [--timeout SECONDS] FILE...
#   Every FILE goes into /tests of a busybox initramfs. The executable ones are
#   the tests: run in the order given, from /tests, as root, each under a
#   timeout; the others are data files for them. A test passes with exit 0, is
#   skipped with 77, fails otherwise. Tests are statically linked programs or
#   busybox sh scripts; a dynamically linked program (a test, or one in a
#   directory given, such as Debian's hackbench) takes the shared libraries it
#   needs on this machine along, at the same paths.
#
# The guest: qemu-system-x86_64 with software emulation (-accel tcg -cpu max;
# KVM does not work on these machines), console on ttyS0 = qemu's stdout. The
# virtual CPUs share one host thread (thread=single): with a thread per vCPU the
# kernel's live code patching (int3 breakpoints while static keys flip, which
# loading and unloading a sched_ext scheduler does) now and then crashed the
# guest ("Oops: int3" in scheduler code). Its
# /init mounts proc, sysfs, devtmpfs, bpf, debugfs, tracefs and cgroup2, prints
# "VMTEST-BEGIN ...", then one line "VMTEST <name> PASS|FAIL|SKIP" per test,
# then "VMTEST-END", and powers off.
#
# Prints the tests' output and their VMTEST lines. Exit status: 0 when every
# test passed or was skipped; 1 when a test failed, the guest did not boot or
# did not reach the end, or the timeout ran out; 77 when this machine cannot
# run the virtual machine (no qemu, no cached kernel: run scripts/vm/setup.sh);
# 2 on a usage error. Needs no root: only read access to the cache.
#
# Environment:
#   GHOST_VM_CACHE        the cache of setup.sh (default /var/cache/ghost-vm)
#   GHOST_VM_KERNEL       the kernel image (default $GHOST_VM_CACHE/vmlinuz)
#   GHOST_VM_CPUS         virtual CPUs (default 4; more than the host has is fine)
#   GHOST_VM_MEM          memory in MiB (default 1024)
#   GHOST_VM_TIMEOUT      seconds for the whole boot, all tests and power-off (default 600)
#   GHOST_VM_TEST_TIMEOUT seconds for one test inside the guest (default 300)
#   GHOST_VM_APPEND       more kernel command-line parameters
#   GHOST_VM_LOG          keep the whole serial console log in this file
#   GHOST_VM_VERBOSE=1    print the whole console, boot messages included
set -uo pipefail

CACHE=${GHOST_VM_CACHE:-/var/cache/ghost-vm}
KERNEL=${GHOST_VM_KERNEL:-$CACHE/vmlinuz}
CPUS=${GHOST_VM_CPUS:-4}
MEM=${GHOST_VM_MEM:-1024}
TIMEOUT=${GHOST_VM_TIMEOUT:-600}
TEST_TIMEOUT=${GHOST_VM_TEST_TIMEOUT:-300}
APPEND="console=ttyS0 quiet panic=-1${GHOST_VM_APPEND:+ $GHOST_VM_APPEND}"

say() { echo "vm: $*"; }
cannot() {
	echo "vm: cannot run the virtual machine: $*" >&2
	exit 77
}
usage() {
	echo "usage: $0 [--timeout SECONDS] FILE..." >&2
	exit 2
}

if [ "${1:-}" = "--timeout" ]; then
	[ $# -ge 2 ] || usage
	TIMEOUT=$2
	shift 2
fi
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || usage

qemu=$(command -v qemu-system-x86_64) || cannot "no qemu-system-x86_64 (scripts/vm/setup.sh installs it)"
busybox=$(command -v busybox || true)
for b in /bin/busybox /usr/bin/busybox "$busybox"; do
	# Only a static busybox works in the guest (Debian's busybox-static).
	if [ -n "$b" ] && [ -x "$b" ] && ! readelf -l "$b" 2>/dev/null | grep -q INTERP; then
		busybox=$b
		break
	fi
	busybox=""
done
[ -n "$busybox" ] || cannot "no statically linked busybox (apt-get install busybox-static)"
command -v cpio >/dev/null || cannot "no cpio (apt-get install cpio)"
[ -r "$KERNEL" ] || cannot "no kernel at $KERNEL (run scripts/vm/setup.sh as root first)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ghost-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,tests,etc}

# ---------------------------------------------------------------- the initramfs

tests=()
for f in "$@"; do
	[ -e "$f" ] || { echo "vm: no such file: $f" >&2; exit 2; }
	name=$(basename "$f")
	[[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "vm: $name: use only letters, digits and ._+- in names" >&2; exit 2; }
	[ -e "$root/tests/$name" ] && { echo "vm: two files named $name" >&2; exit 2; }
	if [ -d "$f" ]; then
		cp -a "$f" "$root/tests/$name"
		continue
	fi
	if [ -x "$f" ]; then
		if ! readelf -h "$f" >/dev/null 2>&1 && [ "$(head -c 2 "$f")" != "#!" ]; then
			echo "vm: $f is executable but neither an ELF program nor a script" >&2
			exit 2
		fi
		tests+=("$name")
	fi
	cp -L "$f" "$root/tests/$name"
done
[ ${#tests[@]} -gt 0 ] || { echo "vm: no executable among the files given" >&2; exit 2; }

# The shared libraries (and the dynamic loader) of every dynamically linked
# program that goes in, copied from this machine to the same paths.
while IFS= read -r -d '' f; do
	readelf -l "$f" 2>/dev/null | grep -q INTERP || continue
	deps=$(ldd "$f" 2>/dev/null) || true
	libs=$(echo "$deps" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	[ -n "$libs" ] || { echo "vm: $f is dynamically linked and ldd finds none of its libraries" >&2; exit 2; }
	if echo "$deps" | grep -q 'not found'; then
		echo "vm: $f needs shared libraries this machine lacks: $(echo "$deps" | grep 'not found' | tr -s ' \t\n' ' ')" >&2
		exit 2
	fi
	for l in $libs; do
		[ -e "$root$l" ] || { mkdir -p "$root$(dirname "$l")" && cp -L "$l" "$root$l"; }
	done
done < <(find "$root/tests" -type f -perm -u+x -print0)

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done

cat >"$root/init" <<EOF
#!/bin/busybox sh
# The guest's init, written by scripts/vm/run.sh.
export PATH=/bin HOME=/ TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# The firmware leaves terminal escapes on the console's last line: start afresh.
echo
echo "VMTEST-BEGIN kernel \$(uname -r), \$(nproc) CPUs, sched_ext \$(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)"
cd /tests
for t in ${tests[*]}; do
	start=\$(date +%s)
	timeout $TEST_TIMEOUT ./\$t </dev/null 2>&1
	rc=\$?
	secs=\$((\$(date +%s) - start))
	case \$rc in
	0) result=PASS ;;
	77) result=SKIP ;;
	*)
		result=FAIL
		if [ \$rc -ge 128 ] && [ \$secs -ge $TEST_TIMEOUT ]; then
			echo "vm-init: \$t timed out after ${TEST_TIMEOUT}s"
		else
			echo "vm-init: \$t exited with status \$rc"
		fi
		;;
	esac
	echo "VMTEST \$t \$result"
done
echo "VMTEST-END"
sync
poweroff -f
EOF
chmod 755 "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/initrd.cpio.gz" ||
	{ echo "vm: could not pack the initramfs" >&2; exit 1; }

# ---------------------------------------------------------------- boot

log=$work/console.log
if [ -z "${GHOST_VM_KERNEL:-}" ] && [ -r "$CACHE/kernel-version" ]; then
	kname="Linux $(head -n 1 "$CACHE/kernel-version")"
else
	kname=$KERNEL
fi
boot() {
	# The console comes back with CR LF line ends and the firmware's terminal
	# escapes, both removed; the filter at the end prints what lies between
	# the markers (or everything, verbose) while the guest runs.
	timeout -k 10 "$TIMEOUT" "$qemu" -accel tcg,thread=single -cpu max -smp "$CPUS" -m "$MEM" \
		-kernel "$KERNEL" -initrd "$work/initrd.cpio.gz" -append "$APPEND" \
		-nographic -no-reboot -nic none </dev/null 2>&1 |
		sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c78]//g' | tee "$log" |
		awk -v all="${GHOST_VM_VERBOSE:-0}" '
			all == 1 { print; fflush(); next }
			/^VMTEST-BEGIN/ { inside = 1 }
			inside { print (/^VMTEST/ ? "" : "    ") $0; fflush() }
			/^VMTEST-END/ { inside = 0 }'
	qemu_rc=${PIPESTATUS[0]}
}

start=$(date +%s)
# Software emulation of several vCPUs occasionally crashes the guest kernel
# while it boots (before any test ran); such a boot is tried again, twice at
# most. A guest that reached its init is never retried.
for attempt in 1 2 3; do
	again=""
	[ "$attempt" -gt 1 ] && again=" (attempt $attempt)"
	say "booting $kname with $CPUS CPUs, tests: ${tests[*]}$again"
	boot
	grep -q '^VMTEST-BEGIN' "$log" && break
	[ "$attempt" -lt 3 ] && say "the guest died before its init: $(grep -m1 -E 'Oops|panic|BUG' "$log" || echo "no console output")"
done
secs=$(($(date +%s) - start))
[ -n "${GHOST_VM_LOG:-}" ] && cp "$log" "$GHOST_VM_LOG"

# ---------------------------------------------------------------- verdict

problem=""
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	problem="timed out after ${TIMEOUT}s"
elif [ "$qemu_rc" -ne 0 ]; then
	problem="qemu exited with status $qemu_rc"
fi
if ! grep -q '^VMTEST-BEGIN' "$log"; then
	problem="the guest never reached its init (no VMTEST-BEGIN)${problem:+; $problem}"
elif ! grep -q '^VMTEST-END' "$log"; then
	problem="the guest stopped before the end of the tests (no VMTEST-END)${problem:+; $problem}"
fi
pass=$(grep -c '^VMTEST [^ ]* PASS$' "$log")
fail=$(grep -c '^VMTEST [^ ]* FAIL$' "$log")
skip=$(grep -c '^VMTEST [^ ]* SKIP$' "$log")
if [ -z "$problem" ] && [ $((pass + fail + skip)) -ne ${#tests[@]} ]; then
	problem="${#tests[@]} tests given, $((pass + fail + skip)) results seen"
fi
if [ -n "$problem" ]; then
	if [ "${GHOST_VM_VERBOSE:-0}" != 1 ]; then
		echo "vm: the end of the console:"
		tail -n 40 "$log" | sed 's/^/    | /'
	fi
	say "FAILED: $problem (${secs}s)"
	exit 1
fi
say "guest finished in ${secs}s: $pass passing, $fail failing, $skip skipped test(s)"
[ "$fail" -eq 0 ]
