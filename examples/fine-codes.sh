#!/bin/sh
# How much is lost in quantisation: chunks of a recording go through 256-level mu-law, 256-level
# linear and 4096-level mu-law codes and back, and sox reports the loudness of what was lost
# (the difference between the chunks and their decoded codes) for each. Mu-law spends its
# levels on quiet samples: on loud material its error can exceed linear's, on quiet passages
# it is far smaller.
#   examples/fine-codes.sh [SONG]                (run from the repository root)
set -e
PATH=${BIN:-$PWD/bin}:$PATH
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
song=${1:-$out/song.wav}
[ -n "${1:-}" ] || sox -n -r 16000 -c 1 "$song" synth 20 sine 262:440 tremolo 5 80 vol 0.5

wavchunk -l 4 -p 0 "$song" -o "$out/chunks.npy"
for q in "-l 256" "-l 256 --linear" "-l 4096"; do
	name=$(echo "$q" | tr -d ' -')
	mulaw $q "$out/chunks.npy" | mulaw -d $q -o "$out/$name.wav"
done
# the reference: the chunks themselves as audio, through 65536 linear levels (a 16-bit wav)
mulaw -l 65536 --linear "$out/chunks.npy" | mulaw -d -l 65536 --linear -o "$out/ref.wav"
for q in q256 q256linear q4096; do
	rms=$(sox -m -v 1 "$out/ref.wav" -v -1 "$out/$q.wav" -n stat 2>&1 | awk '/RMS.*amplitude/ { print $3 }')
	echo "$q: error RMS $rms"
done
