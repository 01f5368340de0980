#!/bin/sh
# bench/wavchunk.sh: wavchunk's throughput in seconds of audio per second on Debian's
# asc-music tracks (three mp3s, 22.05 kHz stereo, 17.6 min), beside sox doing the same decode,
# downmix and resample to 16 kHz mono on the same files in the same run.
# Qualities compared (from the libraries' documentation):
#   wavchunk --quality medium  libsamplerate SRC_SINC_MEDIUM_QUALITY: 90% bandwidth, 97 dB SNR (default)
#   wavchunk --quality fastest libsamplerate SRC_SINC_FASTEST:        80% bandwidth, 97 dB SNR
#   wavchunk --quality poly    libsoxr (lib/resample.c), linear phase:     95% bandwidth, 120 dB
#   sox rate -m         medium:                                95% bandwidth, 100 dB rejection
#   sox rate -l         low:                                   80% bandwidth, 100 dB rejection
#   sox rate -h         high (sox's default):                  95% bandwidth, 125 dB rejection
# so "--quality poly vs sox -h" is the exact like-for-like pair (the same specification); "--quality medium
# vs sox -m" and "--quality fastest vs sox -l" are the nearest for libsamplerate (sox's are, if
# anything, slightly better). Each command runs REPEAT times (default 3); the best time counts.
# Prints figures only, never pass/fail.
set -e
BIN=${BIN:-bin}
dir=data/asc-music
ls $dir/*.mp3 >/dev/null 2>&1 || sh tests/fetch-data.sh $dir
files=$(echo $dir/*.mp3)
repeat=${REPEAT:-3}

# seconds of audio: wavchunk's own count of what it decoded, without resampling
audio=$("$BIN/wavchunk" -r 22050 $files 2>&1 >/dev/null | sed -n 's/.* \([0-9.]*\) s read.*/\1/p')

best() { # best wall time of `sh -c "$1"` over $repeat runs
	b=
	for i in $(seq "$repeat"); do
		t0=$(date +%s.%N)
		sh -c "$1" >/dev/null 2>&1 || { echo "bench: failed: $1" >&2; exit 1; }
		t1=$(date +%s.%N)
		b=$(echo "$t0 $t1 ${b:-1e9}" | awk '{ d = $2 - $1; print (d < $3 ? d : $3) }')
	done
	echo "$b"
}
row() { # row LABEL SECONDS
	printf '%-58s %7.2f s  %8.1f s of audio/s\n' "$1" "$2" "$(echo "$audio $2" | awk '{ print $1 / $2 }')"
}

echo "asc-music: 3 mp3 tracks, ${audio} s of audio (22050 Hz stereo) -> 16000 Hz mono; $(nproc) cores; best of $repeat"
w_med=$(best "for f in $files; do '$BIN/wavchunk' \$f; done")
w_fast=$(best "for f in $files; do '$BIN/wavchunk' --quality fastest \$f; done")
w_poly=$(best "for f in $files; do '$BIN/wavchunk' --quality poly \$f; done")
w_none=$(best "for f in $files; do '$BIN/wavchunk' -r 22050 \$f; done")
s_med=$(best "for f in $files; do sox \$f -t f32 - channels 1 rate -m 16000; done")
s_low=$(best "for f in $files; do sox \$f -t f32 - channels 1 rate -l 16000; done")
s_high=$(best "for f in $files; do sox \$f -t f32 - channels 1 rate -h 16000; done")
s_none=$(best "for f in $files; do sox \$f -t f32 - channels 1; done")
row "wavchunk (libsamplerate sinc medium, default)" "$w_med"
row "wavchunk --quality fastest (libsamplerate sinc fastest)" "$w_fast"
row "wavchunk --quality poly (libsoxr, 95% / 120 dB)" "$w_poly"
row "wavchunk -r 22050 (decode + downmix + chunk, no resampling)" "$w_none"
row "sox channels 1 rate -m 16000 (medium)" "$s_med"
row "sox channels 1 rate -l 16000 (low)" "$s_low"
row "sox channels 1 rate -h 16000 (high, sox's default)" "$s_high"
row "sox channels 1 (decode + downmix, no resampling)" "$s_none"
echo "$w_med $s_med $w_fast $s_low $w_none $s_none $w_poly $s_high" | awk '{
	printf "ratio wavchunk --quality poly / sox -h: %.2fx sox'"'"'s speed (same specification)\n", $8 / $7
	printf "ratio wavchunk medium / sox -m:  %.2fx sox'"'"'s speed\n", $2 / $1
	printf "ratio wavchunk fastest / sox -l: %.2fx sox'"'"'s speed\n", $4 / $3
	printf "resampling alone (total minus no-resampling run): libsamplerate medium %.2f s, poly %.2f s, sox -m %.2f s, sox -h %.2f s\n",
		$1 - $5, $7 - $5, $2 - $6, $8 - $6
	if ($2 / $1 < 1)
		print "note: the default (libsamplerate sinc medium) is slower than sox at comparable quality: libsamplerate evaluates its long filter for every output sample; --quality poly (libsoxr, as sox) filters by FFT"
}'
