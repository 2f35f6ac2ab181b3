# Top-level build. `make` builds the library (static and shared), the tools
# and the tests; `make test` runs every test tier and ends with one line
# "N passed, N failed"; `make test-scx` runs only the sched_ext tier (tests in
# a virtual machine, scripts/scx-tests.sh); `make demo` runs the main job;
# `make install` / `make uninstall` (PREFIX, DESTDIR...) are in mk/install.mk.
#
# Variants build into their own trees: build/ (default), build/asan
# (AddressSanitizer + UndefinedBehaviorSanitizer), build/tsan (ThreadSanitizer).
#
# Options (default 0):
#   SCX=1     builds the sched_ext backend in: kernels/scx/ghost.bpf.c is compiled
#             with $(CLANG) (default clang-19) into $(BUILD)/scx/ghost.bpf.o, which
#             kernels/scx/scx.c embeds, and every program links libbpf (>= 1.4).
#             The BPF object needs a vmlinux.h with sched_ext: $(VMLINUX_H) if set,
#             else $(GHOST_VM_CACHE)/vmlinux.h (scripts/vm/setup.sh caches one in
#             /var/cache/ghost-vm), else one generated with $(BPFTOOL) from this
#             machine's kernel if that has sched_ext. `make SCX=1 scx-tests` also
#             builds the guest test programs of kernels/scx/tests.
#   STATIC=1  links tools, benches and tests statically (no shared library).

CC       ?= gcc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                 -Wmissing-prototypes -Wno-missing-field-initializers \
                 $(OPT) -g -fPIC -fvisibility=hidden -D_GNU_SOURCE -pthread -MMD -MP
ifeq ($(SAN),asan)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(SAN),tsan)
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
SCX     ?= 0
STATIC  ?= 0
CLANG   ?= clang-19
BPFTOOL ?= bpftool
GHOST_VM_CACHE ?= /var/cache/ghost-vm
SCX_BPF_SRC ?= kernels/scx/ghost.bpf.c
SCX_BPF_OBJ := $(BUILD)/scx/ghost.bpf.o
SCX_INC     := $(BUILD)/scx/include
SCX_CFLAGS  :=
SCX_LDLIBS  :=
STATIC_LDFLAGS :=
OBJ_EXTRA   :=

ifeq ($(STATIC),1)
  STATIC_LDFLAGS := -static
endif

ifeq ($(SCX),1)
  SCX_CFLAGS := -DGHOST_HAVE_SCX
  SCX_LDLIBS := -lbpf -lelf -lz $(if $(filter 1,$(STATIC)),-lzstd)
  # What the BPF build needs, checked before anything is compiled (not for
  # the goals that build nothing themselves).
  ifneq ($(filter-out clean test test-scx,$(or $(MAKECMDGOALS),all)),)
    ifeq ($(shell command -v $(CLANG) 2>/dev/null),)
      $(error SCX=1 needs $(CLANG) to compile the BPF scheduler: install clang-19 (scripts/vm/setup.sh does) or name a clang >= 15 with CLANG=...)
    endif
    ifneq ($(shell pkg-config --atleast-version=1.4 libbpf 2>/dev/null && echo ok),ok)
      $(error SCX=1 needs libbpf >= 1.4 (pkg-config reports $(or $(shell pkg-config --modversion libbpf 2>/dev/null),none)): install libbpf-dev from bookworm-backports (scripts/vm/setup.sh does))
    endif
    ifneq ($(VMLINUX_H),)
      SCX_VMLINUX_H := $(VMLINUX_H)
    else ifneq ($(wildcard $(GHOST_VM_CACHE)/vmlinux.h),)
      SCX_VMLINUX_H := $(GHOST_VM_CACHE)/vmlinux.h
    else
      # Generated once from this machine's kernel, if it has sched_ext.
      SCX_VMLINUX_H := $(BUILD)/scx/vmlinux.h
      ifeq ($(wildcard $(SCX_VMLINUX_H)),)
        SCX_GEN := $(shell mkdir -p $(BUILD)/scx && \
          $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$(SCX_VMLINUX_H).tmp 2>/dev/null && \
          grep -q 'struct sched_ext_ops {' $(SCX_VMLINUX_H).tmp && \
          mv $(SCX_VMLINUX_H).tmp $(SCX_VMLINUX_H) && echo ok; rm -f $(SCX_VMLINUX_H).tmp)
        ifneq ($(SCX_GEN),ok)
          $(error SCX=1 needs a vmlinux.h with sched_ext and this machine's kernel has none: run scripts/vm/setup.sh as root (it caches the virtual machine kernel's in $(GHOST_VM_CACHE)) or set VMLINUX_H=FILE)
        endif
      endif
    endif
    ifeq ($(wildcard $(SCX_VMLINUX_H)),)
      $(error SCX=1: there is no vmlinux.h at $(SCX_VMLINUX_H) (VMLINUX_H names a missing file))
    endif
    ifneq ($(shell grep -q 'struct sched_ext_ops {' $(SCX_VMLINUX_H) 2>/dev/null && echo ok),ok)
      $(error SCX=1 needs a vmlinux.h with sched_ext, and $(SCX_VMLINUX_H) has no struct sched_ext_ops: run scripts/vm/setup.sh as root or set VMLINUX_H=FILE)
    endif
    # Which vmlinux.h the object was compiled against: choosing another rebuilds it.
    SCX_VMLINUX_SRC := $(abspath $(SCX_VMLINUX_H))
    $(shell mkdir -p $(BUILD)/scx && echo '$(SCX_VMLINUX_SRC)' | cmp -s - $(BUILD)/scx/vmlinux.src || \
      echo '$(SCX_VMLINUX_SRC)' >$(BUILD)/scx/vmlinux.src)
  endif
endif

CFLAGS  := $(CFLAGS_COMMON) $(SANFLAGS) $(SCX_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) -pthread $(STATIC_LDFLAGS)
LDLIBS  := $(SCX_LDLIBS) -lm

# Example policies that are built in as well (`make examples` builds them as plugins).
EXAMPLE_POLICIES := examples/round_robin.c
# The sched_ext backend, or its stand-in (a probe that says how to get it).
SCX_SRC     := $(if $(filter 1,$(SCX)),kernels/scx/scx.c,kernels/scx/scx_stub.c)
LIB_SRCS    := $(wildcard src/*.c) $(wildcard kernels/emu/*.c) $(wildcard kernels/ghostfs/*.c) \
               $(wildcard kernels/sim/*.c) \
               $(SCX_SRC) $(wildcard policies/*.c) $(EXAMPLE_POLICIES)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TOOL_SRCS   := $(wildcard tools/*.c)
TOOLS       := $(TOOL_SRCS:tools/%.c=$(BUILD)/bin/%)
# What the tools and the bench share (tools/common), linked into each of them.
TOOL_COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/common/*.c))
TOOL_COMMON_HDRS := $(wildcard tools/common/*.h)
# libghost-agent: the ghost-agent program as a call (ghost_agent_main, tools/agent) with the
# tools' helpers; ghost-agent is its main. Static only: it prints and exits, as programs do.
AGENT_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/agent/*.c))
AGENT_LIB   := $(BUILD)/lib/libghost-agent.a
# ghost-bench: one program from the files of bench/ghost-bench/.
BENCH_SRCS  := $(wildcard bench/ghost-bench/*.c)
BENCH_OBJS  := $(BENCH_SRCS:%.c=$(BUILD)/obj/%.o)
BENCHES     := $(BUILD)/bin/ghost-bench
TEST_SRCS   := $(wildcard tests/test_*.c)
TESTS       := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# Programs that run inside the sched_ext virtual machine (scripts/scx-tests.sh);
# the BPF sources there (*.bpf.c) are their data, built by that script.
SCX_TEST_SRCS := $(filter-out %.bpf.c,$(wildcard kernels/scx/tests/*.c))
SCX_TESTS     := $(SCX_TEST_SRCS:kernels/scx/tests/%.c=$(BUILD)/scx/tests/%)
# Who sees which headers: programs and policies only the public ones (include/); the library
# and its backends also src/ (internal.h, backend.h); tools, benchmarks and white-box tests
# also the built-in policies' registry (policies/policies.h). A white-box test (one that
# looks inside: private headers, a backend's table, the embedded kernel's state) is named
# in WHITEBOX_TESTS and sees src/ too; every other test sees what any program sees.
INC_PUBLIC  := -Iinclude
INC_LIB     := -Iinclude -Isrc
INC_TOOLS   := -Iinclude -Ipolicies
INC_WHITEBOX := -Iinclude -Isrc -Ipolicies
WHITEBOX_TESTS := test_agent_stats test_channel test_contract test_e2e_policies test_e2e_procs test_policies \
               test_emu_corrupt test_emu_cpu_msgs test_emu_ns test_emu_txn test_faults \
               test_ghostfs test_interpose test_policy_cfs test_policy_edf test_preempt test_safety_net test_sched test_shinjuku test_status \
               test_stress test_tools test_trace test_txn_failures

# libghost-preload.so (interpose/): makes an unmodified program's threads ghost tasks of the
# enclave its environment names (`ghostctl run` on emu). It carries the library, hidden, and
# exports only its wrappers (interpose/preload.map). Not in STATIC=1 (no shared objects) nor
# in sanitizer builds (a preloaded object cannot bring its sanitizer runtime into a program).
PRELOAD_SRCS := $(wildcard interpose/*.c)
PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(BUILD)/obj/%.o)
PRELOAD_LIB  := $(if $(filter 1,$(STATIC))$(SAN),,$(BUILD)/lib/libghost-preload.so)

STATIC_LIB := $(BUILD)/lib/libghost.a
# libghost.so.MAJOR.MINOR.PATCH (mk/version.mk), beside it the links
# libghost.so.MAJOR (its soname) and libghost.so.
include mk/version.mk
SHARED_LIB := $(BUILD)/lib/libghost.so.$(GHOST_LIB_VERSION)

.PHONY: all lib tools tests scx-tests test test-unit test-asan test-tsan test-scx demo clean \
	check-layers format examples
all: lib tools tests examples

lib: $(STATIC_LIB) $(AGENT_LIB) $(if $(filter 1,$(STATIC)),,$(SHARED_LIB)) $(PRELOAD_LIB)
tools: $(TOOLS) $(BENCHES)
tests: $(TESTS)
scx-tests: $(SCX_TESTS)

# OBJ_EXTRA: flags of one object only (set per target below). Header dependencies come
# from the compiler (-MMD: a .d file beside each object and program).
$(BUILD)/obj/src/%.o $(BUILD)/obj/kernels/%.o: INC = $(INC_LIB)
$(BUILD)/obj/policies/%.o: INC = $(INC_PUBLIC)
# An example built in exports no plugin symbol, and its table is renamed so that a program
# may link its own copy of the example beside the static library.
EXAMPLE_BUILTIN := -DGHOST_POLICY_BUILTIN -Dround_robin_policy=builtin_round_robin_policy
$(BUILD)/obj/examples/%.o: INC = $(INC_PUBLIC) $(EXAMPLE_BUILTIN)
$(BUILD)/obj/tools/%.o $(BUILD)/obj/bench/%.o: INC = $(INC_TOOLS) -Itools/common
$(BUILD)/obj/%.o: %.c $(BUILD)/obj/%.d
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(INC) $(OBJ_EXTRA) -c $< -o $@

ifeq ($(SCX),1)
# The BPF scheduler, compiled against a directory holding only vmlinux.h, and
# embedded into scx.c's object (.incbin of the absolute path).
$(SCX_INC)/vmlinux.h: $(SCX_VMLINUX_H) $(BUILD)/scx/vmlinux.src
	@mkdir -p $(dir $@)
	@cp $< $@

$(SCX_BPF_OBJ): $(SCX_BPF_SRC) $(wildcard kernels/scx/*.h) $(SCX_INC)/vmlinux.h
	@mkdir -p $(dir $@)
	@echo "  BPF     $@"
	@$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wno-missing-declarations \
	    -I$(SCX_INC) -Ikernels/scx -c $< -o $@

$(BUILD)/obj/kernels/scx/scx.o: OBJ_EXTRA = -DGHOST_SCX_BPF_OBJ='"$(abspath $(SCX_BPF_OBJ))"'
$(BUILD)/obj/kernels/scx/scx.o: $(SCX_BPF_OBJ)
endif

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS) src/libghost.map
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -shared -Wl,--version-script=src/libghost.map -Wl,-soname,$(GHOST_LIB_SONAME) \
	    $(LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS)
	@ln -sfn $(notdir $@) $(dir $@)$(GHOST_LIB_SONAME)
	@ln -sfn $(GHOST_LIB_SONAME) $(dir $@)libghost.so

# Its wrappers must be visible to stand in for the C library's (the map exports only them).
$(BUILD)/obj/interpose/%.o: INC = $(INC_PUBLIC) -fvisibility=default
$(BUILD)/lib/libghost-preload.so: $(PRELOAD_OBJS) $(STATIC_LIB) interpose/preload.map
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -shared -Wl,--version-script=interpose/preload.map -Wl,-z,nodelete $(LDFLAGS) -o $@ \
	    $(PRELOAD_OBJS) $(STATIC_LIB) -ldl $(LDLIBS)

$(AGENT_LIB): $(AGENT_OBJS) $(TOOL_COMMON_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

# ghost-agent loads policy plugins, which are linked against the program that loads them:
# it carries the whole library and exports its API (-rdynamic) for them.
$(BUILD)/bin/ghost-agent: tools/ghost-agent.c $(AGENT_LIB) $(STATIC_LIB) $(BUILD)/deps/bin/ghost-agent.d
	@mkdir -p $(dir $@) $(BUILD)/deps/bin
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) -MF $(BUILD)/deps/bin/ghost-agent.d $(INC_PUBLIC) $< -o $@ $(AGENT_LIB) \
	    -rdynamic -Wl,--whole-archive $(STATIC_LIB) -Wl,--no-whole-archive $(LDFLAGS) $(LDLIBS)

# ghost-trace embeds the page of its html command (.incbin of the absolute path).
TIMELINE_HTML := tools/timeline/timeline.html
$(BUILD)/bin/ghost-trace: $(TIMELINE_HTML)
$(BUILD)/bin/ghost-trace: TOOL_EXTRA = -DGHOST_TIMELINE_HTML='"$(abspath $(TIMELINE_HTML))"'

$(BUILD)/bin/%: tools/%.c $(TOOL_COMMON_OBJS) $(STATIC_LIB) $(BUILD)/deps/bin/%.d
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@mkdir -p $(BUILD)/deps/bin
	@$(CC) $(CFLAGS) -MF $(BUILD)/deps/bin/$*.d $(INC_TOOLS) -Itools/common $(TOOL_EXTRA) \
	    $< $(TOOL_COMMON_OBJS) \
	    -o $@ $(STATIC_LIB) \
	    $(LDFLAGS) $(LDLIBS)

$(BENCHES): $(BENCH_OBJS) $(TOOL_COMMON_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(BENCH_OBJS) $(TOOL_COMMON_OBJS) -o $@ $(STATIC_LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(STATIC_LIB) $(BUILD)/deps/tests/%.d
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@mkdir -p $(BUILD)/deps/tests
	@$(CC) $(CFLAGS) -MF $(BUILD)/deps/tests/$*.d \
	    $(if $(filter $(notdir $@),$(WHITEBOX_TESTS)),$(INC_WHITEBOX),$(INC_PUBLIC)) -DGHOST_BIN_DIR='"$(abspath $(BUILD))/bin"' $< -o $@ $(STATIC_LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/scx/tests/%: kernels/scx/tests/%.c $(STATIC_LIB) $(BUILD)/deps/scx/tests/%.d
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@mkdir -p $(BUILD)/deps/scx/tests
	@$(CC) $(CFLAGS) -MF $(BUILD)/deps/scx/tests/$*.d $(INC_WHITEBOX) $< -o $@ $(STATIC_LIB) \
	    $(LDFLAGS) $(LDLIBS)

# The examples, built as a user would build them (examples/Makefile: pkg-config, no private
# header) against this build tree, into $(BUILD)/examples: the round-robin policy as a
# plugin and an agent program of its own. They need the shared library.
EXAMPLE_PC := $(BUILD)/pkgconfig/libghost-uninstalled.pc $(BUILD)/pkgconfig/libghost-agent-uninstalled.pc
examples: lib $(EXAMPLE_PC)
ifeq ($(STATIC),1)
	@echo "  SKIP    examples (STATIC=1 builds no shared library for plugins)"
else
	@$(MAKE) --no-print-directory -C examples OUT=$(abspath $(BUILD))/examples \
	    PKG_CONFIG_PATH=$(abspath $(BUILD))/pkgconfig CC="$(CC) $(SANFLAGS)" \
	    DEPS="$(abspath $(AGENT_LIB) $(SHARED_LIB) $(wildcard include/ghost/*.h))"
endif

# The tree's C style (.clang-format): `make format` applies it; the test tier checks it.
format:
	@scripts/check-format.sh --fix

# Every call between the library's objects goes down its layers (scripts/layers.conf).
check-layers: $(LIB_OBJS)
	@scripts/check-layers.sh $(LIB_OBJS)

# The whole suite: the plain build, then the sanitizer builds.
test:
	@scripts/run-tests.sh

test-unit: all
	@tests/run.sh $(TESTS)

test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=asan OPT=-O1 all
	@tests/run.sh $(patsubst tests/%.c,build/asan/tests/%,$(TEST_SRCS))

test-tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan SAN=tsan OPT=-O1 all
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" tests/run.sh \
	    $(addprefix build/tsan/tests/,$(shell grep -v '^\#' tests/tsan.list))

# The sched_ext tier alone (a virtual machine; skipped where it cannot run).
test-scx:
	@scripts/scx-tests.sh

demo:
	@scripts/setup.sh
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@scripts/demo.sh

clean:
	rm -rf build

# The header dependencies the compiler wrote. A target whose .d is missing (never built, or
# built before the tree had them) is rebuilt: the empty rule makes the missing .d "new".
# (Named explicitly: a missing intermediate file would not count.)
DEP_FILES := $(LIB_OBJS:.o=.d) $(PRELOAD_OBJS:.o=.d) $(TOOL_COMMON_OBJS:.o=.d) $(AGENT_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) \
             $(patsubst $(BUILD)/%,$(BUILD)/deps/%.d,$(TOOLS) $(TESTS) $(SCX_TESTS))
$(DEP_FILES): ;
-include $(wildcard $(DEP_FILES))

# make install / uninstall, the man pages, the packaging checks.
include mk/install.mk

# ---- fuzzing (libFuzzer) ----
# `make fuzz` builds every target of fuzz/ with $(FUZZ_CC) and libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer into $(FUZZ_BUILD), then runs
# each for FUZZ_SECONDS over its corpus (fuzz/corpus/<target>; what it finds
# goes to $(FUZZ_BUILD)/corpus/<target>, crashes to $(FUZZ_BUILD)/crashes).
# `make fuzz-smoke` replays every corpus and fuzzes each target a few seconds.
# The library is compiled here with clang's warnings shown but not fatal (the
# gcc build holds it to -Werror); the targets themselves are -Werror clean.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -Wno-missing-field-initializers -O1 -g \
                -D_GNU_SOURCE -Iinclude -Isrc -Ipolicies -pthread -MMD -MP $(FUZZ_SAN)
FUZZ_SRCS    := $(wildcard fuzz/*.c)
FUZZ_TARGETS := $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB     := $(FUZZ_BUILD)/lib/libghost.a
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_TARGETS)

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_BUILD)/obj/%.d
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter examples/%,$<),$(EXAMPLE_BUILTIN)) -Wno-error \
	    -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%: fuzz/%.c $(FUZZ_LIB) $(FUZZ_BUILD)/deps/%.d
	@mkdir -p $(dir $@) $(FUZZ_BUILD)/deps
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -MF $(FUZZ_BUILD)/deps/$*.d -fsanitize=fuzzer $< -o $@ $(FUZZ_LIB) -lm

fuzz: fuzz-build
	@FUZZ_CC=$(FUZZ_CC) FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	@FUZZ_CC=$(FUZZ_CC) FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh --smoke

FUZZ_DEP_FILES := $(FUZZ_OBJS:.o=.d) $(patsubst $(FUZZ_BUILD)/%,$(FUZZ_BUILD)/deps/%.d,$(FUZZ_TARGETS))
$(FUZZ_DEP_FILES): ;
-include $(wildcard $(FUZZ_DEP_FILES))
