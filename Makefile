# Makefile - inverse CLIPasso in C.
#
# Discovers its parts by wildcard: tools/NAME.c -> bin/NAME, plugins/NAME.c ->
# $(BUILD)/plugins/NAME.so, common/*.c and common/nn/*.c -> $(BUILD)/libinvclip.a,
# common/nn/*.c alone -> $(BUILD)/libnn.a (the pure-maths layer, the only
# project code a plugin links), tests/unit/NAME.c -> $(BUILD)/tests/NAME.
# Adding a tool or plugin is adding a file.  System libraries are found with pkg-config; mk/deps.sh installs
# missing ones with apt-get when run as root, or prints the install line.
#
#   make [all]   build tools and plugins         make test    run the test suite
#   make check   ASan+UBSan build + tests + short fuzz runs
#   make bench   benchmarks (docs/benchmarks.md)  make fuzz    run the fuzzers (FUZZ_SECONDS each)
#   make bench-clip-train  one CLIP training step, C vs PyTorch (CLIP_TRAIN_ARGS)
#   make bench-rounds PAIR=clip ROUNDS=9   a C/PyTorch pair in alternating rounds: medians, min-max
#   make fuzz-merge  fold the fuzzers' local finds into tests/fuzz/seeds
#   make demo    the main job on shipped data -> outputs/demo
#   make train-clip  retrain the shipped sketch CLIP (data/models/sketch-clip)   make zeroshot  its zero-shot report
#   make reference-anchor | text-guided | clipasso | recipes   the study's optimisation experiments
#   make train-evaluator  train the sketch-score evaluator (data/models/evaluator)
#   make install PREFIX=/usr/local DESTDIR=       make clean

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
BINDIR    ?= bin
CC        ?= cc
SAN       ?=
FUZZ_SECONDS ?= 60

PKGS      := libpng libcjson zlib openblas libpcre2-8 libzip libjpeg
DEPS_OK   := $(BUILD)/.deps-ok

# pkg-config is queried lazily (=) so a first 'make' can install it first.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
ifeq ($(SAN),1)
  CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDSAN   := -fsanitize=address,undefined
endif
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -fPIC -Icommon $(PKG_CFLAGS) \
             -DINVCLIP_VERSION='"$(VERSION)"' -DINVCLIP_PLUGIN_DIR='"$(abspath $(BUILD))/plugins"' -DINVCLIP_DATA_DIR='"$(abspath data)"'
LDLIBS    = $(PKG_LIBS) -ldl -lm -lpthread
LDFLAGS   += $(LDSAN)

COMMON_SRC := $(wildcard common/*.c common/nn/*.c)
COMMON_HDR := $(wildcard common/*.h common/nn/*.h)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC   := $(wildcard tools/*.c)
TOOLS      := $(TOOL_SRC:tools/%.c=$(BINDIR)/%)
PLUGIN_SRC := $(wildcard plugins/*.c)
PLUGINS    := $(PLUGIN_SRC:plugins/%.c=$(BUILD)/plugins/%.so)
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNITS      := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/*.c)
BENCH_SRC  := $(wildcard bench/*.c)
BENCHES    := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TPLUG_SRC  := $(wildcard tests/plugins/*.c)
TPLUGS     := $(TPLUG_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)
LIB        := $(BUILD)/libinvclip.a
NN_SRC     := $(wildcard common/nn/*.c)
NN_OBJ     := $(NN_SRC:%.c=$(BUILD)/%.o)
NNLIB      := $(BUILD)/libnn.a

.PHONY: all deps test check bench bench-rounds bench-clip-train bench-resnet fuzz fuzz-build fuzz-merge demo zeroshot train-clip train-evaluator install clean \
        reference-anchor text-guided clipasso clipasso-rn fair recipes train-unet unet-study
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LIB) $(NNLIB) $(TOOLS) $(PLUGINS)
	@echo "built: $(notdir $(TOOLS)) | plugins: $(notdir $(PLUGINS)) | libs: $(PKGS)"

deps: $(DEPS_OK)
$(DEPS_OK): mk/deps.sh
	@sh mk/deps.sh
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/%.o: %.c $(COMMON_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The pure-maths layer and the plugins are compiled with hidden visibility:
# a plugin .so exports its entry point (declared visible in plugin.h) and
# nothing else, so two plugins carrying copies of one nn/ kernel never
# interpose on each other or on the host.
$(NN_OBJ) $(PLUGIN_SRC:%.c=$(BUILD)/%.o): ALL_CFLAGS += -fvisibility=hidden
# the plugins' shared static inline helpers
$(PLUGIN_SRC:%.c=$(BUILD)/%.o): $(wildcard plugins/*.h)

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(NNLIB): $(NN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BINDIR)/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# summarize's pictures (common/gfx/: cairo and giflib, outside libinvclip.a so no other tool or fuzzer
# links them).  giflib has no pkg-config file on Debian: -lgif, its header checked by mk/deps.sh.
GFX_SRC    := $(wildcard common/gfx/*.c)
GFX_OBJ    := $(GFX_SRC:%.c=$(BUILD)/%.o)
GFX_CFLAGS  = $(shell pkg-config --cflags cairo fontconfig 2>/dev/null) -Icommon/gfx
GFX_LIBS    = $(shell pkg-config --libs cairo fontconfig 2>/dev/null) -lgif
$(GFX_OBJ) $(BUILD)/tools/summarize.o: ALL_CFLAGS += $(GFX_CFLAGS)
$(GFX_OBJ) $(BUILD)/tools/summarize.o: $(wildcard common/gfx/*.h)
$(BINDIR)/summarize: $(BUILD)/tools/summarize.o $(GFX_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(GFX_LIBS)

# A plugin links the pure-maths layer and libc/libm only (-z defs: nothing
# left for the host to provide); mk/plugin.map keeps every symbol but the
# entry point local.  tests/cli/plugin_linkage.sh checks the result.
$(BUILD)/plugins/%.so: $(BUILD)/plugins/%.o $(NNLIB) mk/plugin.map
	$(CC) $(LDFLAGS) -shared -Wl,-z,defs -Wl,--as-needed -Wl,--version-script=mk/plugin.map -o $@ $< $(NNLIB) -lm

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# clip_bench times the model's attention calls whole (bench/clip_bench.c)
$(BUILD)/bench/clip_bench: LDFLAGS += -Wl,--wrap=attention_forward -Wl,--wrap=attention_backward

# deliberately broken plugins for the loader's error tests
$(BUILD)/tests/plugins/%.so: $(BUILD)/tests/plugins/%.o
	$(CC) $(LDFLAGS) -shared -o $@ $<

# the benchmark drivers' shared header
$(BENCH_SRC:%.c=$(BUILD)/%.o): bench/bench.h

# the unit tests' shared headers (t.h)
$(UNIT_SRC:%.c=$(BUILD)/%.o): $(wildcard tests/unit/*.h)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The test suite: unit tests, then CLI tests; ends with "N passed, N failed".
test: all $(UNITS) $(TPLUGS)
	@BIN=$(abspath $(BINDIR)) UNITS=$(abspath $(BUILD))/tests PLUGINS=$(abspath $(BUILD))/plugins SAN=$(SAN) \
	  TPLUGINS=$(abspath $(BUILD))/tests/plugins sh tests/run.sh

# Sanitizer build in its own tree, the whole suite under it, and a short fuzz run.
# Sanitizer reports are also written to build/san/reports/, so one in a
# command whose exit status a test does not look at still fails the check.
check:
	@rm -rf build/san/reports && mkdir -p build/san/reports
	ASAN_OPTIONS=log_path=$(abspath build/san/reports)/asan UBSAN_OPTIONS=log_path=$(abspath build/san/reports)/ubsan \
	  $(MAKE) --no-print-directory BUILD=build/san BINDIR=build/san/bin SAN=1 test
	@if ls build/san/reports/* >/dev/null 2>&1; then echo "check: sanitizer reports:"; head -30 build/san/reports/*; exit 1; fi
	$(MAKE) --no-print-directory FUZZ_SECONDS=10 fuzz

# common/ is compiled once with coverage instrumentation and linked into every
# fuzzer (the shorter stem picks the object rule for build/fuzz/obj/...).
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ := $(COMMON_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_CC   = clang -std=gnu11 -g -O1 -Icommon $(PKG_CFLAGS)
build/fuzz/obj/%.o: %.c $(COMMON_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ) $(COMMON_HDR) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
fuzz-build: $(FUZZERS)
# Dictionaries: tests/fuzz/dict/<kind>.dict for the targets that read JSON,
# PNG, JPEG or parameter strings.
FUZZ_DICT_fuzz_sketch     := json
FUZZ_DICT_fuzz_screen     := json
FUZZ_DICT_fuzz_config     := json
FUZZ_DICT_fuzz_degrade    := json
FUZZ_DICT_fuzz_tensorfile := json
FUZZ_DICT_fuzz_optim_ckpt := json
FUZZ_DICT_fuzz_unet_model := json
FUZZ_DICT_fuzz_checkpoint := json
FUZZ_DICT_fuzz_trainlog   := json
FUZZ_DICT_fuzz_trainsamples := json
FUZZ_DICT_fuzz_pngstream  := png
FUZZ_DICT_fuzz_jpeg       := jpeg
FUZZ_DICT_fuzz_params     := params
FUZZ_DICT_fuzz_lrspec     := params
fuzz_dict = $(if $(FUZZ_DICT_$(1)),-dict=tests/fuzz/dict/$(FUZZ_DICT_$(1)).dict)
# Each target runs FUZZ_SECONDS on its committed seeds (tests/fuzz/seeds/NAME)
# plus a local corpus (build/fuzz/corpus-NAME); the last status line shows
# executions and coverage.  `make fuzz-merge` folds what the local corpora
# found back into the committed seeds (minimised with -merge=1).
fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n tests/fuzz/seeds/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  d=$$($(MAKE) -s --no-print-directory fuzz-dict-$$n); \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 $$d build/fuzz/corpus-$$n tests/fuzz/seeds/$$n 2>build/fuzz/$$n.log \
	    || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E '^#[0-9]+' build/fuzz/$$n.log | tail -1; done
fuzz-dict-%:
	@echo "$(call fuzz_dict,$*)"
fuzz-merge: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); [ -d build/fuzz/corpus-$$n ] || continue; \
	  mkdir -p tests/fuzz/seeds/$$n; before=$$(ls tests/fuzz/seeds/$$n | wc -l); \
	  $$f -merge=1 -max_len=65536 tests/fuzz/seeds/$$n build/fuzz/corpus-$$n 2>/dev/null; \
	  echo "fuzz-merge: $$n: $$before -> $$(ls tests/fuzz/seeds/$$n | wc -l) seeds"; done

bench: all $(BENCHES)
	@BUILD=$(abspath $(BUILD)) BIN=$(abspath $(BINDIR)) sh bench/run.sh

# one C/PyTorch pair in alternating rounds, medians and spread (bench/rounds.sh): PAIR=render|clip|conv|train|clip_train
bench-rounds: all $(BENCHES)
	@BUILD=$(abspath $(BUILD)) sh bench/rounds.sh $(or $(PAIR),clip) $(or $(ROUNDS),5)

# issue 9's CLIP training-step benchmark alone (make bench runs it too, as the
# clip_train section); another config or batch: CLIP_TRAIN_ARGS="--batch 64 --steps 3"
# issue 15: CLIP RN101's image tower against PyTorch (bench/resnet.sh [rounds] [reps])
bench-resnet: all $(BUILD)/bench/resnet_bench
	@BUILD=$(abspath $(BUILD)) sh bench/resnet.sh $(RESNET_ARGS)

# issue 11: one unet-train step against PyTorch, the study's config and the CPU-sized one (bench/unet_train.sh [study|small|both] [K])
.PHONY: bench-unet-train
bench-unet-train: all
	@BIN=$(abspath $(BINDIR)) sh bench/unet_train.sh $(or $(WHICH),both) $(or $(K),2)

bench-clip-train: all $(BUILD)/bench/clip_train_bench
	@BUILD=$(abspath $(BUILD)) sh bench/clip_train.sh $(CLIP_TRAIN_ARGS)

# issue 10's optimisation-step benchmark alone (bench/optimize.sh; make bench runs it as the
# optimize section): C vs PyTorch per step, the shipped model's 300 steps, the reference anchor
.PHONY: bench-optimize
bench-optimize: all
	@BUILD=$(abspath $(BUILD)) BIN=$(abspath $(BINDIR)) sh bench/optimize.sh

# issue 10's like-for-like target: optimize --precision bf16 against PyTorch's bfloat16 peers in
# alternating pairs (bench/pairs.sh; PAIRS=12, PEERS="autocast-bf16 bf16")
.PHONY: bench-pairs
bench-pairs: all
	@PEERS='$(or $(PEERS),autocast-bf16)' sh bench/pairs.sh $(or $(PAIRS),10)

# make demo: real drawings (some Google did not recognise), visible degradations, three enhancers, summarize
# -> outputs/demo/report.html in under 5 minutes on 2 cores (docs/summarize.md).  OUT WORDS PER STEPS SEED JOBS.
demo: all
	@BIN='$(BINDIR)' sh pipelines/demo.sh

# The study's zero-shot evaluation (pipelines/zeroshot.sh): by default the shipped sketch-domain CLIP on
# the validation drawings of the study's 10 words; WORDS=study|all|W,W.. SPLIT=val|all K=N SEED=S OUT=DIR
# CLIP_MODEL=FILE (e.g. OpenAI's ViT-B-32.pt) override.  Top-1 and top-5 in OUT/summary.json.
zeroshot: all
	@CLIP_MODEL='$(CLIP_MODEL)' WORDS='$(WORDS)' SPLIT='$(SPLIT)' K='$(K)' SEED='$(SEED)' OUT='$(OUT)' \
	  BIN='$(BINDIR)' sh pipelines/zeroshot.sh

# The study's optimisation experiments (pipelines/*.sh; docs/optimize.md), writing outputs/<recipe>/:
# reference anchoring (4.8), text-guided refinement (7.1), CLIPasso-style sketching (4.6, 4.9), and
# our CLIP-free prior `fair` on real drawings.
# CLIP=FILE (e.g. OpenAI's ViT-B-32.pt) replaces the shipped model; STEPS N WORD SEED JOBS THREADS OUT.
RECIPE_ENV = CLIP='$(CLIP)' STEPS='$(STEPS)' N='$(N)' WORD='$(WORD)' SEED='$(SEED)' JOBS='$(JOBS)' \
  THREADS='$(THREADS)' OUT='$(OUT)' BIN='$(BINDIR)'
reference-anchor text-guided clipasso fair: all
	@env $(RECIPE_ENV) sh pipelines/$@.sh
# CLIPasso's shipped loss: CLIP_RN=RN101.pt (geometric loss) with CLIP=ViT-B-32.pt (saliency); TARGET=picture
clipasso-rn: all
	@env $(RECIPE_ENV) CLIP_RN='$(CLIP_RN)' TARGET='$(TARGET)' sh pipelines/clipasso-rn.sh
recipes: reference-anchor text-guided clipasso fair

# Train the shipped sketch-domain CLIP (pipelines/train-clip.sh; ~1 h on 2 cores) and install it in
# data/models/sketch-clip/.  OUT=DIR for the checkpoints, RESUME=1 to continue, INSTALL= to skip installing.
train-clip: all
	@BIN='$(BINDIR)' sh pipelines/train-clip.sh

# Train the evaluator, sketch-score's recognisability CNN (pipelines/train-evaluator.sh; <= 30 min on 2 cores),
# and install it in data/models/evaluator/.  OUT=DIR, RESUME=1, STEPS=N, INSTALL= to skip installing.
train-evaluator: all
	@BIN='$(BINDIR)' OUT='$(OUT)' RESUME='$(RESUME)' STEPS='$(STEPS)' sh pipelines/train-evaluator.sh

# The enhancement study (pipelines/study.sh; docs/enhancement-study.md): sets a/b/c scored by the evaluator before and
# after every enhancer.  SPLIT=test|tune N SETS ENHANCERS OUT REPORT_ONLY=1.  And the best enhancer as one
# command: make enhance IN=sketches.ndjson OUT=enhanced.ndjson (METHOD=... for another; pipelines/enhance.sh).
.PHONY: study enhance
study: all
	@BIN='$(BINDIR)' $(if $(SPLIT),SPLIT='$(SPLIT)') $(if $(N),N='$(N)') $(if $(SETS),SETS='$(SETS)') \
	  $(if $(ENHANCERS),ENHANCERS='$(ENHANCERS)') $(if $(OUT),OUT='$(OUT)') $(if $(REPORT_ONLY),REPORT_ONLY='$(REPORT_ONLY)') \
	  sh pipelines/study.sh
enhance: all
	@test -n '$(IN)' && test -n '$(OUT)' || { echo 'usage: make enhance IN=sketches.ndjson OUT=enhanced.ndjson [METHOD=...]' >&2; exit 2; }
	@BIN='$(abspath $(BINDIR))' $(if $(METHOD),METHOD='$(METHOD)') sh pipelines/enhance.sh <'$(IN)' >'$(OUT).tmp' && mv '$(OUT).tmp' '$(OUT)' || { rm -f '$(OUT).tmp'; exit 1; }

# The sketch enhancer (docs/unet.md, "unet-train"): train-unet trains the CPU-sized model on the study's
# 10 words in minutes and reports held-out L1, IoU and ink ratio beside the all-white baseline
# (OUT, EPOCHS, THREADS, INSTALL=data/models/unet-small to replace the shipped one); unet-study is the
# study's own run (fish, 500 drawings, 15 epochs, base 64, L1 only; hours on a CPU; GAN=1 DATA=FILE).
train-unet: all
	@BIN='$(BINDIR)' sh pipelines/train-unet.sh
unet-study: all
	@BIN='$(BINDIR)' sh pipelines/unet-study.sh

# Out-of-tree plugin authors get the ABI header, the pure-maths headers and
# libnn.a (docs/plugins.md): <prefix>/include/invclip, <prefix>/lib/invclip.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/invclip/plugins $(DESTDIR)$(PREFIX)/share/invclip \
	  $(DESTDIR)$(PREFIX)/include/invclip/nn
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(PLUGINS),install -m 755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/invclip/plugins/)
	install -m 644 $(NNLIB) $(DESTDIR)$(PREFIX)/lib/invclip/
	install -m 644 common/plugin.h $(DESTDIR)$(PREFIX)/include/invclip/
	install -m 644 $(wildcard common/nn/*.h) $(DESTDIR)$(PREFIX)/include/invclip/nn/
	cp -R data $(DESTDIR)$(PREFIX)/share/invclip/

clean:
	rm -rf build bin

# Data-parallel trainers over MPI (docs/scale-out.md): when Open MPI's mpicc is found,
# bin/clip-train-mpi, bin/unet-train-mpi and bin/sketch-score-mpi are the trainers linked with
# common/dist.c compiled -DHAVE_MPI (ahead of the library's serial dist.o).  MPICC= disables them.
MPICC     ?= $(shell command -v mpicc 2>/dev/null)
MPI_TOOLS := clip-train unet-train sketch-score
ifneq ($(MPICC),)
ifneq ($(SAN),1)
MPI_BINS  := $(MPI_TOOLS:%=$(BINDIR)/%-mpi)
endif
endif
.PHONY: mpi-status
all: mpi-status $(MPI_BINS)
mpi-status:
	@echo "mpi: $(if $(MPI_BINS),found $(MPICC): $(notdir $(MPI_BINS)),not built ($(if $(MPICC),sanitizer build,no mpicc; apt-get install libopenmpi-dev openmpi-bin)))"
$(BUILD)/mpi/dist.o: common/dist.c common/dist.h common/util.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_CFLAGS) -DHAVE_MPI -c $< -o $@
$(BINDIR)/%-mpi: $(BUILD)/tools/%.o $(BUILD)/mpi/dist.o $(LIB)
	@mkdir -p $(dir $@)
	$(MPICC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# steps/s at 1 process and 2 ranks (bench/mpi.sh; docs/scale-out.md)
.PHONY: bench-mpi
bench-mpi: all
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) sh bench/mpi.sh
