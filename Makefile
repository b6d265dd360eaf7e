# SPDX-License-Identifier: GPL-2.0-only
#
# Vigil's build. Everything generated lands in build/. Sources are discovered, so a new file in
# lib/ or a capability directory needs no Makefile edit:
#
#   lib/*.c                        core library               -> build/libvigil.a
#   <cap>/*.c                      capability user halves     -> build/libvigil.a
#   <cap>/*.bpf.c, tests/*/*.bpf.c kernel halves              -> build/bpf/*.bpf.o, build/*.skel.h
#   <cap>/*.proto                  protobuf-c messages        -> build/proto/*.pb-c.[ch]
#   src/main.c                     the CLI                    -> build/vigil
#   tests/<tier>/*.c, <cap>/tests/*.c  test programs          -> build/tests/*
#   <cap>/fuzz/fuzz_*.c, tests/fuzz/fuzz_*.c  libFuzzer targets (ASan+UBSan) -> build/fuzz/*
#   bench/<name>/*.c               benchmark programs         -> build/bench/*
#
# Targets: all (default), check, demo, fuzz, bench, deps, man, clean.

BUILD    ?= build
CAPS     := probe rpc peers watchdog kaspa mesh
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
LLVM_STRIP ?= llvm-strip
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.0.0)
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

-include $(BUILD)/config.mk

WARN     := -Wall -Wextra -Werror
# V=1 shows full commands
ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
endif
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -I. -I$(BUILD) -I$(BUILD)/proto \
	    $(CONFIG_CFLAGS)
# only the libraries a binary really uses are loaded (smaller RSS, faster start)
LDFLAGS  += -Wl,--as-needed
LDLIBS   += $(CONFIG_LIBS) -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-parameter \
	    -Wno-missing-field-initializers -I$(BUILD) -Ibpf -Iinclude

LIB_SRCS   := $(wildcard lib/*.c) $(foreach c,$(CAPS),$(filter-out %.bpf.c,$(wildcard $(c)/*.c)))
PROTO_SRCS := $(foreach c,$(CAPS),$(wildcard $(c)/*.proto))
PROTO_C    := $(patsubst %.proto,$(BUILD)/proto/%.pb-c.c,$(notdir $(PROTO_SRCS)))
BPF_SRCS   := $(foreach c,$(CAPS),$(wildcard $(c)/*.bpf.c)) $(wildcard tests/*/*.bpf.c) \
	      $(foreach c,$(CAPS),$(wildcard $(c)/tests/*.bpf.c))
BPF_OBJS   := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_SRCS)))
SKELS      := $(patsubst %.bpf.c,$(BUILD)/%.skel.h,$(notdir $(BPF_SRCS)))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
	      $(patsubst %.c,$(BUILD)/obj/proto/%.o,$(notdir $(PROTO_C)))
TEST_SRCS  := $(filter-out %.bpf.c,$(wildcard tests/unit/*.c tests/bpf/*.c tests/integration/*.c \
	      tests/vm/*.c) $(foreach c,$(CAPS),$(wildcard $(c)/tests/*.c)))
TEST_BINS  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRCS)))
BENCH_SRCS := $(wildcard bench/*/*.c)
BENCH_BINS := $(patsubst %.c,$(BUILD)/bench/%,$(notdir $(BENCH_SRCS)))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c) $(foreach c,$(CAPS),$(wildcard $(c)/fuzz/fuzz_*.c))
FUZZ_BINS  := $(patsubst %.c,$(BUILD)/fuzz/%,$(notdir $(FUZZ_SRCS)))
FUZZ_OBJS  := $(patsubst %.c,$(BUILD)/fuzz-obj/%.o,$(LIB_SRCS)) \
	      $(patsubst %.c,$(BUILD)/fuzz-obj/proto/%.o,$(notdir $(PROTO_C)))
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	      -fno-omit-frame-pointer

SRC_HDRS   := $(filter-out $(BUILD)/%,$(wildcard */*.h) $(wildcard include/vigil/*.h))

vpath %.c $(sort $(dir $(TEST_SRCS) $(FUZZ_SRCS) $(BENCH_SRCS)))
vpath %.bpf.c $(sort $(dir $(BPF_SRCS)))
vpath %.proto $(sort $(dir $(PROTO_SRCS)))

.PHONY: all check demo fuzz bench deps man clean test FORCE
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/vigil $(TEST_BINS) man

deps:
	@scripts/deps

$(BUILD)/config.mk: scripts/configure
	@mkdir -p $(BUILD)
	@scripts/configure $(BUILD)/config.mk

# The version lives in one generated header, rewritten only when `git describe` changes, so a
# new commit rebuilds what prints it and nothing else.
$(BUILD)/version.h: FORCE
	@mkdir -p $(BUILD)
	@v='#define VIGIL_VERSION "$(VERSION)"'; [ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" > $@

FORCE:

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(call msg,GEN,$@)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# The watchdog and rpc need BPF atomics that return a value (fetch-and-add, compare-and-swap,
# fetch-and-or/and: ISA v3, kernels 5.12+); the other programs keep the compiler's default
# instruction set.
$(BUILD)/bpf/watchdog.bpf.o: BPF_CFLAGS += -mcpu=v3
$(BUILD)/bpf/rpc.bpf.o: BPF_CFLAGS += -mcpu=v3

$(BUILD)/bpf/%.bpf.o: %.bpf.c $(BUILD)/vmlinux.h $(SRC_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,BPF,$@)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)/proto
	$(call msg,PROTO,$<)protoc-c --proto_path=$(dir $<) --c_out=$(BUILD)/proto $<

GENERATED := $(SKELS) $(patsubst %.c,%.h,$(PROTO_C)) $(BUILD)/config.mk $(BUILD)/version.h

$(BUILD)/obj/%.o: %.c $(GENERATED) $(SRC_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/proto/%.o: $(BUILD)/proto/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@

$(BUILD)/libvigil.a: $(LIB_OBJS)
	@rm -f $@
	$(call msg,AR,$@)ar rcs $@ $^

$(BUILD)/vigil: $(BUILD)/obj/src/main.o $(BUILD)/libvigil.a
	$(call msg,CC,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: %.c $(BUILD)/libvigil.a tests/test.h $(GENERATED)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LDLIBS)

$(BUILD)/bench/%: %.c $(BUILD)/libvigil.a $(GENERATED)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LDLIBS)

# Sanitized build of the whole library for the fuzz targets.
$(BUILD)/fuzz-obj/%.o: %.c $(GENERATED) $(SRC_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CLANG,$@)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(filter-out -O2,$(CFLAGS)) -c $< -o $@

$(BUILD)/fuzz-obj/proto/%.o: $(BUILD)/proto/%.c
	@mkdir -p $(dir $@)
	$(call msg,CLANG,$@)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(filter-out -O2,$(CFLAGS)) -Wno-unused-parameter -c $< -o $@

$(BUILD)/libvigil-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@
	$(call msg,AR,$@)ar rcs $@ $^

$(BUILD)/fuzz/%: %.c $(BUILD)/libvigil-fuzz.a
	@mkdir -p $(dir $@)
	$(call msg,CLANG,$@)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer $(filter-out -O2,$(CFLAGS)) -o $@ $< \
		$(BUILD)/libvigil-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Long fuzzing runs: FUZZ_SECONDS per target (make check runs each briefly over its corpus).
FUZZ_SECONDS ?= 600
fuzz: deps $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do scripts/fuzz-run "$$f" $(FUZZ_SECONDS) || exit 1; done

man: $(BUILD)/vigil
	@mkdir -p $(BUILD)/man
	@$(BUILD)/vigil __man $(BUILD)/man 2>/dev/null || true

# The benchmark programs are built too (not run), so a change that breaks one fails the check.
check: deps
	@$(MAKE) --no-print-directory all fuzz-build $(BENCH_BINS)
	@tests/run $(TIERS)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

# bench/<name>/run each measure one thing against a baseline in the same run; see bench/RESULTS.md
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@for b in bench/*/run; do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf $(BUILD)
