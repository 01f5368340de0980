#!/bin/sh
# A dataset the dadabots way: exactly N chunks spread evenly over a whole album taken as one
# recording (they overlap when the album is shorter than N chunks), quantised with the
# dadabots' own mu-law so their SampleRNN checkpoints can be used; and the same parts as wav
# files to listen to, named after the track each part starts in.
#   examples/dadabots-parts.sh [TRACK...]        (run from the repository root)
# Without tracks it makes three short test tracks with sox. Results go to $OUT.
set -e
PATH=${BIN:-$PWD/bin}:$PATH
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
if [ $# -eq 0 ]; then
	sox -n -r 22050 -c 1 "$out/intro.wav" synth 12 sine 220-880 vol 0.4
	sox -n -r 44100 -c 2 "$out/theme.flac" synth 20 sine 220 sine 330 tremolo 3 60 vol 0.5
	sox -n -r 48000 -c 1 "$out/outro.ogg" synth 9 pinknoise vol 0.2 fade 0 9 4
	set -- "$out/intro.wav" "$out/theme.flac" "$out/outro.ogg"
fi

wavchunk --parts 12 "$@" | mulaw --dadabots >"$out/dataset.npy"
wavchunk --parts 12 "$@" -o "$out/parts/"

echo "12 parts as dadabots codes: $out/dataset.npy; as wav files: $out/parts/"
ls "$out/parts"
