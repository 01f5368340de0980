#!/bin/sh
# From a recording to the codes a model trains on, and back to sound: cut 8 s chunks of
# 16 kHz mono audio, quantise them to 256 mu-law codes, and decode the codes into one wav to
# hear what the model will learn from.
#   examples/chunk-quantise-listen.sh [SONG]     (run from the repository root)
# Without SONG it makes a 30 s test sound with sox. Results go to $OUT (default: a new
# temporary directory), whose name is printed at the end.
set -e
PATH=${BIN:-$PWD/bin}:$PATH
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
song=${1:-$out/song.flac}
[ -n "${1:-}" ] || sox -n -r 44100 -c 2 "$song" synth 30 sine 110:880 sine 165:1320 tremolo 2 40 vol 0.5

wavchunk "$song" | mulaw >"$out/codes.npy"
mulaw -d -o "$out/back.wav" "$out/codes.npy"

echo "codes for training: $out/codes.npy; listen to them: $out/back.wav ($(soxi -d "$out/back.wav"))"
