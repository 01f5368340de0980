#!/bin/sh
# bench/resample.sh: the resamplers wavchunk can use, on the same signals in the same run:
# lib/resample.c (libsoxr, `--quality poly`), libsoxr at its HQ recipe, and libsamplerate's sinc
# medium (wavchunk's default) and best. Prints, per rate pair, the worst passband SNR against
# the exact sine (amplitude and phase: a delay counts as error), the alias rejection, and CPU
# speed in seconds of audio per CPU second (one thread). Figures only, never pass/fail.
set -e
B=${B:-build}
make -s "$B/libsharks.a" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Ilib -o "$tmp/resample_bench" bench/resample_bench.c "$B/libsharks.a" \
	$(pkg-config --cflags --libs soxr samplerate fftw3f) -lm
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for pair in "22050 16000" "44100 16000" "48000 22050" "16000 44100"; do
	"$tmp/resample_bench" $pair
	echo
done
