# 1000 sharks: top-level build.
# Every filters/NAME.c becomes bin/NAME, linked against build/libsharks.a (all of lib/*.c).
# lib/*_real.c are also compiled in double precision (-DREAL_F64, symbols suffixed _f64)
# into build/libsharks64.a, which the unit tests link for finite-difference checks.
# tests/unit/NAME.c become build/tests/NAME.t; `make test` runs them and tests/*.t with prove.

CC       ?= cc
OPT      ?= -O2
PKGS     := sndfile libmpg123 samplerate fftw3f fftw3 openblas libchromaprint cairo libpng
OPENMP   := -fopenmp
CFLAGS   := -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_GNU_SOURCE -Ilib \
            $(OPENMP) $(EXTRA_CFLAGS)
LDFLAGS  := $(OPENMP) -Wl,--as-needed $(EXTRA_LDFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    = $(PKG_LIBS) -lm

B        := build
LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(B)/lib/%.o)
REAL_SRC := $(wildcard lib/*_real.c)
REAL_OBJ := $(REAL_SRC:lib/%.c=$(B)/lib64/%.o)
BINDIR   ?= bin
PROGS    := $(patsubst filters/%.c,$(BINDIR)/%,$(wildcard filters/*.c))
UNIT     := $(patsubst tests/unit/%.c,$(B)/tests/%.t,$(wildcard tests/unit/*.c))
DEPSTAMP := $(B)/.deps-ok

# Debian packages: to build, and to run the test suite.
BUILD_DEBS := build-essential pkg-config libsndfile1-dev libmpg123-dev libsamplerate0-dev libfftw3-dev \
              libopenblas-dev libchromaprint-dev libcairo2-dev libpng-dev fonts-dejavu-core \
              fonts-blankenburg
TEST_DEBS  := python3-numpy python3-torch sox libsox-fmt-all flac vorbis-tools binutils time chromium \
              aubio-tools espeak-ng

.PHONY: all deps test-deps test asan asan-quick asan-run bench clean data
all: $(PROGS)

deps:
	@sh tests/deps.sh $(BUILD_DEBS)
test-deps:
	@sh tests/deps.sh $(BUILD_DEBS) $(TEST_DEBS)

$(DEPSTAMP): Makefile tests/deps.sh
	@sh tests/deps.sh $(BUILD_DEBS)
	@mkdir -p $(@D) && touch $@

$(B)/lib/%.o: lib/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/lib64/%.o: lib/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DREAL_F64 -MMD -MP -c -o $@ $<
$(B)/libsharks.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/libsharks64.a: $(REAL_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BINDIR)/%: filters/%.c $(B)/libsharks.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -MMD -MP -MF $(B)/$*.d -o $@ $< $(B)/libsharks.a $(LDLIBS)

$(B)/tests/%.t: tests/unit/%.c $(B)/libsharks.a $(B)/libsharks64.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit $(LDFLAGS) -MMD -MP -o $@ $< \
	    $(B)/libsharks.a $(B)/libsharks64.a $(B)/libsharks.a $(LDLIBS)

# The suite: unit tests of lib/, then program tests (tests/*.t, shell, TAP).
PROVE_JOBS ?= 2
test: test-deps
	@$(MAKE) --no-print-directory all $(UNIT)
	@$(MAKE) --no-print-directory data
	prove --exec env -j$(PROVE_JOBS) $(UNIT) $(sort $(wildcard tests/*.t))

# AddressSanitizer + UBSan build of everything, in its own build tree, and the unit tests and
# the program tests ASAN_TESTS (default all) on it. Program tests find the sanitized programs
# through BIN. `make asan-quick` is CI's: the unit tests and the program tests of the inputs
# from outside (decoding, streams, checkpoints, the album's files), which take a few minutes
# under the sanitizers; the rest (long training curves, the whole pipeline, a browser) runs in
# `make test` only.
ASAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_TESTS ?= $(sort $(wildcard tests/*.t))
ASAN_QUICK := tests/albumpage.t tests/curate.t tests/ddsp.t tests/mulaw.t tests/npy_interop.t tests/qsample.t \
              tests/wavchunk.t
asan: test-deps
	$(MAKE) --no-print-directory B=build-asan BINDIR=build-asan/bin OPT="$(ASAN_FLAGS)" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" ASAN_TESTS="$(ASAN_TESTS)" asan-run
asan-quick:
	@$(MAKE) --no-print-directory asan ASAN_TESTS="$(ASAN_QUICK)"
asan-run: $(PROGS) $(UNIT) data
	BIN=$(BINDIR) ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    prove --exec env -j$(PROVE_JOBS) $(UNIT) $(ASAN_TESTS)

bench: all
	@for b in bench/*.sh; do echo "== $$b"; sh $$b || exit 1; done

# Real recorded music for tests and the default album: Debian's asc-music (GPL-2+).
data: data/asc-music/.ok
data/asc-music/.ok:
	@sh tests/fetch-data.sh data/asc-music

clean:
	rm -rf build build-asan $(filter-out bin/.gitkeep,$(wildcard bin/*))

-include $(wildcard $(B)/lib/*.d $(B)/lib64/*.d $(B)/*.d $(B)/tests/*.d)
-include $(sort $(wildcard pipelines/*.mk))
