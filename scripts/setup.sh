#!/usr/bin/env bash
# scripts/setup.sh - installs what building and testing need on a fresh
# Debian machine (gcc, make, the tools the test tiers use, clang with
# libFuzzer for the fuzz targets, chromium for the timeline page's test).
# Idempotent: installs only what is missing. Needs root (or sudo) only when
# it installs.
set -euo pipefail
need=()
# clang and its runtime with libFuzzer build the fuzz targets (`make fuzz`);
# g++ and pkg-config build the packaging tests' programs; clang-format checks
# the tree's style (scripts/check-format.sh); xz-utils is one of the unmodified programs
# tests/test_interpose.sh runs under the interposer.
for pkg in gcc make libc6-dev procps clang libclang-rt-14-dev g++ pkg-config clang-format xz-utils; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "setup: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
# chromium, headless, loads the timeline page of `ghost-trace html` in tests/test_trace_html.sh
# (without its recommended packages: the test needs no desktop).
if ! command -v chromium >/dev/null 2>&1; then
	echo "setup: installing chromium"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	[ ${#need[@]} -gt 0 ] || $sudo apt-get update -qq # (not again)
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi
