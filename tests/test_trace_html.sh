#!/usr/bin/env bash
# tests/test_trace_html.sh - `ghost-trace html` in a real browser: a traced run in the deployed
# shape (ghost-agent --trace in one process, ghost-workload in another, on the embedded kernel),
# its timeline page loaded by headless chromium:
#   - the page is one file that loads nothing (no src=, href=, url(), @import, http);
#   - once drawn, <body data-rendered="N boxes"> holds exactly the on-CPU periods that
#     `ghost-trace stats --json` counts, and no error;
#   - a screenshot of it is not blank (many colours, many pixels off the background), and the
#     browser logged no console message and no uncaught exception;
#   - opened on a span with a box hovered (#from=&to=&tip=), it draws fewer boxes and shows
#     the task, the txn that put it there and the task's messages;
#   - a trace with no period draws "0 boxes" without error; bad input exits 2 or 1, one line.
# With GHOST_TIMELINE_PNG=FILE it also writes that screenshot of a zoomed, hovered view (the one
# docs/tracing.md shows). Needs chromium (scripts/setup.sh installs it) and python3; skipped
# without. Run from the top of the tree after `make` (BUILD: the build directory, default build).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
command -v python3 >/dev/null || skip "needs python3 to read the screenshot"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] ||
	skip "no chromium: scripts/setup.sh installs it (apt-get install --no-install-recommends chromium)"
# Any browser process still using this test's profiles.
test_cleanup_extra() {
	for pid in $(pgrep -f -- "--user-data-dir=$tmp/" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
}

# browser WHAT URL ARGS...: headless chromium on URL with a private profile; its stdout goes
# to $tmp/WHAT.out, its log to $tmp/WHAT.log.
browser() {
	local what=$1 url=$2
	shift 2
	HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache \
		timeout -k 5 90 "$browser" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check --disable-extensions \
		--user-data-dir="$tmp/profile-$what" --enable-logging=stderr --v=0 "$@" "$url" \
		>"$tmp/$what.out" 2>"$tmp/$what.log" ||
		fail "chromium ($what) exited $?: $(tail -n 5 "$tmp/$what.log")"
}

# The <body> tag of a dumped DOM.
body_tag() { grep -o '<body[^>]*>' "$1" | head -n 1; }

# No console message, no uncaught exception in a browser log.
check_log() {
	if grep -E 'CONSOLE|Uncaught|SyntaxError|TypeError|ReferenceError' "$1"; then
		fail "the page logged to the console (above)"
	fi
}

# ---- a traced run ----
traced_run 5 "$tmp/t.bin" 0.3 0.2
"$bin/ghost-trace" stats --json "$tmp/t.bin" >"$tmp/stats.json" || fail "stats --json"
read -r periods failed < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["oncpu_periods"], sum(n for k, n in s["txn_outcomes"].items() if k != "COMPLETE"))
' "$tmp/stats.json")
[ "$periods" -gt 0 ] || fail "no on-CPU period in the trace"
"$bin/ghost-trace" html "$tmp/t.bin" -o "$tmp/t.html" || fail "html"

# ---- one file that loads nothing ----
if grep -n -i -E '(src|href)=|url\(|@import|https?://' "$tmp/t.html"; then
	fail "the page refers to something outside itself (above)"
fi
[ "$(grep -c '<script' "$tmp/t.html")" -eq 2 ] || fail "not the page's two inline scripts"

# ---- drawn: every period a box, no error ----
browser dom "file://$tmp/t.html" --dump-dom
tag=$(body_tag "$tmp/dom.out")
[ "$tag" = "<body data-rendered=\"$periods boxes\" data-periods=\"$periods\">" ] ||
	fail "the page drew \"$tag\", the trace has $periods on-CPU periods"
check_log "$tmp/dom.log"
grep -q "<b>$periods</b> on-CPU periods" "$tmp/dom.out" || fail "the summary does not count $periods periods"
if [ "$failed" -gt 0 ]; then
	grep -q "$failed</b> failed" "$tmp/dom.out" || fail "the summary does not show the $failed failed txns"
fi

# ---- a screenshot that is not blank ----
browser shot "file://$tmp/t.html" --window-size=1200,600 --screenshot="$tmp/t.png"
check_log "$tmp/shot.log"
[ -s "$tmp/t.png" ] || fail "no screenshot"
python3 - "$tmp/t.png" <<'EOF' || exit 1
# A minimal PNG reader (8-bit RGB or RGBA, not interlaced): how many distinct colours, and how
# many pixels differ from the most common one (the background).
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    print("FAIL: not a PNG"); sys.exit(1)
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + n
if depth != 8 or ctype not in (2, 6) or interlace:
    print("FAIL: a PNG this reader does not take (depth %d, colour type %d)" % (depth, ctype)); sys.exit(1)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, pos = bytearray(stride), {}, 0
for y in range(h):
    f, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
    pos += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        k = bytes(line[x:x + 3])
        colours[k] = colours.get(k, 0) + 1
    prev = line
bg = max(colours.values())
other = w * h - bg
if len(colours) < 12 or other < w * h // 50:
    print("FAIL: a blank screenshot: %d colours, %d of %d pixels off the background" % (len(colours), other, w * h))
    sys.exit(1)
print("screenshot %dx%d: %d colours, %.1f%% off the background" % (w, h, len(colours), 100.0 * other / (w * h)))
EOF

# ---- a span, a box hovered: fewer boxes, the tooltip tells the task, its txn, its messages ----
# A period of 20 us or more, in the busiest 1 ms around one.
read -r start cpu < <(python3 - "$tmp/t.html" <<'EOF'
import bisect, json, re, sys
page = open(sys.argv[1]).read()
d = json.loads(re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', page, re.S).group(1))
starts = sorted(p[2] for p in d["periods"])
def around(p):
    mid = (p[2] + p[3]) / 2
    return bisect.bisect(starts, mid + 500000) - bisect.bisect(starts, mid - 500000)
p = max((p for p in d["periods"] if p[3] - p[2] >= 20000 and p[1] >= 0), key=around)
print((p[2] + p[3]) / 2e3, p[0])
EOF
)
[ -n "${start:-}" ] || fail "no period of 20 us or more to hover"
from=$(python3 -c "print(max(0, $start - 500))") to=$(python3 -c "print($start + 500)")
view="file://$tmp/t.html#from=$from&to=$to&tip=$cpu,$start"
browser zoom "$view" --dump-dom
tag=$(body_tag "$tmp/zoom.out")
n=$(sed -n 's/.*data-rendered="\([0-9]*\) boxes".*/\1/p' <<<"$tag")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt "$periods" ] ||
	fail "zoomed to 1 ms the page drew \"$tag\" of $periods periods"
check_log "$tmp/zoom.log"
tipline=$(tr -d '\n' <"$tmp/zoom.out" | grep -o '<div id="tip"[^>]*>.*</div><div id="error"')
for want in "tid [0-9]" "on <b>CPU $cpu</b>" "COMPLETE" "barrier" "MSG_TASK_"; do
	grep -q -- "$want" <<<"$tipline" || fail "the tooltip has no \"$want\": $tipline"
done
grep -q '<div id="tip" hidden' <<<"$tipline" && fail "the tooltip is hidden"
if [ -n "${GHOST_TIMELINE_PNG:-}" ]; then
	browser docs "$view" --window-size=1100,500 --screenshot="$GHOST_TIMELINE_PNG"
	check_log "$tmp/docs.log"
fi

# ---- a trace without a period ----
"$bin/ghost-agent" --policy fifo-percpu --cpus 0-1 --enclave 6 --trace "$tmp/e.bin" \
	--quiet >"$tmp/agent" 2>&1 &
agent_pid=$!
for _ in $(seq 1 500); do
	"$bin/ghostctl" status 6 2>/dev/null | grep -q '^active yes' && break
	sleep 0.01
done
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "the idle agent exited $?: $(cat "$tmp/agent")"
agent_pid=
"$bin/ghost-trace" html "$tmp/e.bin" -o "$tmp/e.html" || fail "html of an empty trace"
browser empty "file://$tmp/e.html" --dump-dom
[ "$(body_tag "$tmp/empty.out")" = '<body data-rendered="0 boxes" data-periods="0">' ] ||
	fail "the empty trace drew \"$(body_tag "$tmp/empty.out")\""
check_log "$tmp/empty.log"

# ---- bad input ----
expect 2 "html needs -o" "$bin/ghost-trace" html "$tmp/t.bin"
expect 2 "html takes no --format" "$bin/ghost-trace" html "$tmp/t.bin" --format chrome -o "$tmp/x"
expect 2 "html takes no --json" "$bin/ghost-trace" html "$tmp/t.bin" --json -o "$tmp/x"
expect 2 "stats takes no -o" "$bin/ghost-trace" stats "$tmp/t.bin" -o "$tmp/x"
expect 1 "cannot write" "$bin/ghost-trace" html "$tmp/t.bin" -o "$tmp/no/dir/t.html"
head -c 1000 "$tmp/t.bin" >"$tmp/short.bin"
expect 1 "truncated" "$bin/ghost-trace" html "$tmp/short.bin" -o "$tmp/x.html"
[ -e "$tmp/x.html" ] && fail "a page was written for a truncated trace"
echo "trace html: $periods boxes drawn in chromium, screenshot, zoom and tooltip, empty trace, bad input: ok"
