# 1000 sharks: top-level build.
# Every filters/NAME.c becomes bin/NAME, linked against build/libsharks.a (all of lib/*.c).
# lib/*_real.c are also compiled in double precision (-DREAL_F64, symbols suffixed _f64)
# into build/libsharks64.a, which the unit tests link for finite-difference checks.
# tests/unit/NAME.c become build/tests/NAME.t; `make test` runs them and tests/*.t with prove.

CC       ?= cc
OPT      ?= -O2
PKGS     := sndfile libmpg123 samplerate soxr fftw3f fftw3 openblas libchromaprint cairo libpng
OPENMP   := -fopenmp
# -fno-math-errno: nothing reads errno after a math call, and with it set sqrtf cannot be
# vectorised (Adam's loop ran scalar: 46 ms a step for 12 M parameters, 9 ms with it); GCC 12
# ignores it in a file's `#pragma GCC optimize`. IEEE results are the same either way.
CFLAGS   := -std=c11 $(OPT) -fno-math-errno -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_GNU_SOURCE -Ilib \
            $(OPENMP) $(EXTRA_CFLAGS)
LDFLAGS  := $(OPENMP) -Wl,--as-needed $(EXTRA_LDFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(MPI_CFLAGS)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    = $(PKG_LIBS) $(MPI_LIBS) $(CUDA_LIBS) -lm

# MPI (data-parallel qtrain and qsample under mpirun): lib/dist.c where OpenMPI's ompi-c is
# installed, else lib/dist_none.c, which refuses a launch as several ranks. MPI=0 builds
# without it even where it is installed.
MPI      ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c)
MPI_LIBS   := $(shell pkg-config --libs ompi-c)
DIST_SKIP  := lib/dist_none.c
else
DIST_SKIP  := lib/dist.c
endif

B        := build
LIB_SRC  := $(filter-out $(DIST_SKIP),$(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(B)/lib/%.o)
REAL_SRC := $(wildcard lib/*_real.c)
REAL_OBJ := $(REAL_SRC:lib/%.c=$(B)/lib64/%.o)
BINDIR   ?= bin
PROGS    := $(patsubst filters/%.c,$(BINDIR)/%,$(wildcard filters/*.c))
UNIT     := $(patsubst tests/unit/%.c,$(B)/tests/%.t,$(wildcard tests/unit/*.c))
DEPSTAMP := $(B)/.deps-ok

# `make` builds the programs, whatever rules come first
.DEFAULT_GOAL := all

# ---- CUDA (docs/cuda.md) ------------------------------------------------------------------
# Where nvcc is found (on PATH, else /usr/local/cuda/bin/nvcc; NVCC=PATH picks one) and its
# toolkit has libcudart_static.a, lib/*.cu are compiled by it into libsharks.a in place of
# lib/backend_cuda_none.c, and the programs link cudart statically (no toolkit path needed to
# start one); cuBLAS is not linked but opened from the toolkit's library folder once a GPU is
# found (lib/backend_cuda.cu says why). The toolkit is the one nvcc itself reports (its TOP),
# not the folder nvcc was found in: on PATH it may be a wrapper script (/usr/local/bin/nvcc).
# CUDA_HOME=DIR overrides it. Elsewhere, or with CUDA=0, nothing CUDA is built and --device
# cuda says "built without CUDA support"; a toolkit without cudart warns and builds without.
# CUDA_ARCH: the GPU architectures compiled for (90: H100, H200; PTX of the last one is kept
# for newer GPUs to compile at load). make test-cuda: the device tests, verbose.
NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_ARCH ?= 90
ifneq ($(CUDA),0)
ifneq ($(NVCC),)
ifndef CUDA_HOME
CUDA_HOME := $(shell $(NVCC) --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^\#\$$ TOP=//p' | xargs -r realpath)
endif
ifndef CUDA_LIBDIR
CUDA_LIBDIR := $(patsubst %/libcudart_static.a,%,$(firstword $(wildcard $(addsuffix /libcudart_static.a,\
               $(CUDA_HOME)/lib64 $(CUDA_HOME)/targets/$(shell uname -m)-linux/lib $(CUDA_HOME)/lib \
               /usr/lib/$(shell uname -m)-linux-gnu))))
endif
ifeq ($(CUDA_LIBDIR),)
ifeq ($(CUDA),1)
$(error CUDA=1, but no libcudart_static.a in the toolkit of $(NVCC) ($(or $(CUDA_HOME),nvcc reported no TOP)); set CUDA_HOME=DIR)
endif
$(warning nvcc is $(NVCC), but its toolkit ($(or $(CUDA_HOME),nvcc reported no TOP)) has no libcudart_static.a: building without CUDA (CUDA_HOME=DIR names the toolkit))
CUDA := 0
else
CUDA := 1
endif
else
CUDA := 0
endif
endif
export CUDA CUDA_HOME CUDA_LIBDIR
ifeq ($(CUDA),1)
LIB_SRC     := $(filter-out lib/backend_cuda_none.c,$(LIB_SRC))
LIB_OBJ     := $(LIB_SRC:lib/%.c=$(B)/lib/%.o) $(patsubst lib/%.cu,$(B)/lib/%.o,$(wildcard lib/*.cu))
CUDA_LIBS   := -L$(CUDA_LIBDIR) -lcudart_static -ldl -lrt -lpthread -lstdc++
NVCCFLAGS   := -std=c++17 -O2 -g -Ilib -DSHARKS_CUDA_LIBDIR='"$(CUDA_LIBDIR)"' -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror \
               $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)) \
               -gencode arch=compute_$(lastword $(CUDA_ARCH)),code=compute_$(lastword $(CUDA_ARCH)) \
               $(EXTRA_NVCCFLAGS)
$(B)/lib/%.o: lib/%.cu | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<
else
CUDA_LIBS   :=
endif
# The device tests (every operation, and WaveNet's step, on the GPU against the CPU): skipped
# without a GPU.
.PHONY: test-cuda
test-cuda: $(DEPSTAMP)
	@$(MAKE) --no-print-directory $(B)/tests/test_cuda.t $(B)/tests/test_wavenet_bk.t
	prove -v --exec env $(B)/tests/test_cuda.t $(B)/tests/test_wavenet_bk.t
# ---- end of CUDA ---------------------------------------------------------------------------

# Debian packages: to build, and to run the test suite.
BUILD_DEBS := build-essential pkg-config libsndfile1-dev libmpg123-dev libsamplerate0-dev libsoxr-dev libfftw3-dev \
              libopenblas-dev libchromaprint-dev libcairo2-dev libpng-dev fonts-dejavu-core \
              fonts-blankenburg
TEST_DEBS  := python3-numpy python3-torch sox libsox-fmt-all flac vorbis-tools binutils time chromium \
              aubio-tools espeak-ng clang libclang-rt-14-dev openmpi-bin libopenmpi-dev iproute2 procps clang-format

.PHONY: all deps test-deps test check asan asan-quick asan-run bench clean data fixtures fuzz fuzz-check
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

# The unit tests of lib/ alone, and the layer rule of lib/layers.txt: no data, no programs,
# under a minute on 2 cores.
check: $(DEPSTAMP)
	@$(MAKE) --no-print-directory $(UNIT)
	prove --exec env -j$(PROVE_JOBS) $(UNIT) tests/layers.t tests/format.t

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

# libFuzzer harnesses (fuzz/*.c, clang with ASan and UBSan) for every parser of outside bytes,
# linked against the lib/ files they reach, built in build-fuzz/. `make fuzz` runs each for
# FUZZ_SECONDS, growing build-fuzz/corpus/NAME from the committed fuzz/corpus/NAME; fuzz-check
# (run by .ci/run) runs each for FUZZ_CHECK_SECONDS from the committed corpus alone. A crash,
# a leak or undefined behaviour stops with the input saved as build-fuzz/crash-*.
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_CHECK_SECONDS ?= 10
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -D_DEFAULT_SOURCE -D_GNU_SOURCE -Ilib
FUZZ_LIB    := util logtsv npy json safetensors ddsp fft album rng audio
FUZZ_OBJ    := $(FUZZ_LIB:%=build-fuzz/lib/%.o)
FUZZ_NAMES  := $(patsubst fuzz/%.c,%,$(wildcard fuzz/*.c))
FUZZ_BINS   := $(FUZZ_NAMES:%=build-fuzz/%)
.SECONDARY: $(FUZZ_OBJ)
build-fuzz/lib/%.o: lib/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
build-fuzz/%: fuzz/%.c fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
fuzz: test-deps $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do mkdir -p build-fuzz/corpus/$$n; echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	    (cd build-fuzz && LSAN_OPTIONS=suppressions=../fuzz/lsan.supp:print_suppressions=0 ./$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 \
	        -rss_limit_mb=2048 corpus/$$n ../fuzz/corpus/$$n) || exit 1; done
fuzz-check: test-deps $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do rm -rf build-fuzz/check/$$n; mkdir -p build-fuzz/check/$$n; \
	    echo "== fuzz-check $$n ($(FUZZ_CHECK_SECONDS) s from fuzz/corpus/$$n)"; \
	    (cd build-fuzz && LSAN_OPTIONS=suppressions=../fuzz/lsan.supp:print_suppressions=0 ./$$n -max_total_time=$(FUZZ_CHECK_SECONDS) -print_final_stats=1 -timeout=10 \
	        -rss_limit_mb=2048 check/$$n ../fuzz/corpus/$$n >check/$$n.log 2>&1); rc=$$?; \
	    grep -E "DONE|stat::number_of_executed_units" build-fuzz/check/$$n.log; \
	    if [ $$rc -ne 0 ]; then tail -40 build-fuzz/check/$$n.log; exit 1; fi; done

bench: all
	@for b in bench/*.sh; do echo "== $$b"; sh $$b || exit 1; done

# The committed fixtures of tests/fixtures/, regenerated by the scripts beside them from the
# PyTorch reference models of tests/reference/ (Debian python3-torch, python3-numpy; torch on
# one thread, fixed seeds): in any clone, `make fixtures && git status --porcelain` prints nothing.
fixtures:
	/usr/bin/python3 tests/fixtures/make_samplernn_fixture.py
	/usr/bin/python3 tests/fixtures/make_wavenet_fixture.py
	/usr/bin/python3 tests/fixtures/ddsp_reference.py
	/usr/bin/python3 tests/fixtures/make-curate-trim.py
	/usr/bin/python3 tests/reference/ddsp_model.py fixture tests/fixtures/ddsp_model_ref.safetensors

# Real recorded music for tests and the default album: Debian's asc-music (GPL-2+).
data: data/asc-music/.ok
data/asc-music/.ok:
	@sh tests/fetch-data.sh data/asc-music

clean:
	rm -rf build build-asan build-fuzz $(filter-out bin/.gitkeep,$(wildcard bin/*))

-include $(wildcard $(B)/lib/*.d $(B)/lib64/*.d $(B)/*.d $(B)/tests/*.d build-fuzz/lib/*.d)
-include $(sort $(wildcard pipelines/*.mk))
