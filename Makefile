# Top-level build. `make` builds the library (static and shared), the tools
# and the tests; `make test` runs every test tier and ends with one line
# "N passed, N failed"; `make demo` runs the main job.
#
# Variants build into their own trees: build/ (default), build/asan
# (AddressSanitizer + UndefinedBehaviorSanitizer), build/tsan (ThreadSanitizer).

CC       ?= gcc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                 -Wmissing-prototypes -Wno-missing-field-initializers \
                 $(OPT) -g -fPIC -fvisibility=hidden -D_GNU_SOURCE -Iinclude -Isrc -Ipolicies -pthread
ifeq ($(SAN),asan)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(SAN),tsan)
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
CFLAGS  := $(CFLAGS_COMMON) $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) -pthread
LDLIBS  := -lm

LIB_SRCS    := $(wildcard src/*.c) $(wildcard kernels/emu/*.c) $(wildcard kernels/ghostfs/*.c) \
               $(wildcard policies/*.c)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TOOL_SRCS   := $(wildcard tools/*.c)
TOOLS       := $(TOOL_SRCS:tools/%.c=$(BUILD)/bin/%)
BENCH_SRCS  := $(wildcard bench/*.c)
BENCHES     := $(BENCH_SRCS:bench/%.c=$(BUILD)/bin/%)
TEST_SRCS   := $(wildcard tests/test_*.c)
TESTS       := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
HEADERS     := $(wildcard include/ghost/*.h) $(wildcard src/*.h) $(wildcard kernels/*/*.h) \
               $(wildcard policies/*.h) $(wildcard tests/*.h) $(wildcard tools/*.h)

STATIC_LIB := $(BUILD)/lib/libghost.a
SHARED_LIB := $(BUILD)/lib/libghost.so

.PHONY: all lib tools tests test test-unit test-asan test-tsan demo clean
all: lib tools tests

lib: $(STATIC_LIB) $(SHARED_LIB)
tools: $(TOOLS) $(BENCHES)
tests: $(TESTS)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS) src/libghost.map
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -shared -Wl,--version-script=src/libghost.map -Wl,-soname,libghost.so.0 \
	    $(LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS)

$(BUILD)/bin/%: tools/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) $< -o $@ $(STATIC_LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bin/%: bench/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) $< -o $@ $(STATIC_LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) -DGHOST_BIN_DIR='"$(abspath $(BUILD))/bin"' $< -o $@ $(STATIC_LIB) $(LDFLAGS) $(LDLIBS)

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
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" tests/run.sh \
	    $(patsubst tests/%.c,build/tsan/tests/%,$(filter tests/test_stress%.c tests/test_channel%.c,$(TEST_SRCS)))

demo:
	@scripts/setup.sh
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@scripts/demo.sh

clean:
	rm -rf build
