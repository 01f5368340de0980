#!/bin/sh
# A live stream, the dadabots' way: qsample continues a recording without end (-s 0), as raw
# 16-bit PCM at the checkpoint's rate (--format s16), paced to the clock (--realtime), into an
# encoder: here oggenc writing live.ogg; an Icecast source client (ices, ezstream) reading the
# same PCM on its stdin puts it on the air. Closing the pipe ends qsample quietly.
#   examples/live-stream.sh [CHECKPOINT [SECONDS]]     (run from the repository root)
# Without a checkpoint it trains a tiny one for a few steps on a sox tone (it will sound like
# noise: train longer for music). SECONDS (default 3) bounds the stream with `head`, so that the
# example ends: leave `head` out and it runs until stopped. Results go to $OUT.
set -e
PATH=${BIN:-$PWD/bin}:$PATH
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
secs=${2:-3}
sox -n -r 16000 -c 1 "$out/song.wav" synth 8 sine 220 sine 330 tremolo 3 60 vol 0.5
ck=${1:-}
if [ -z "$ck" ]; then
	wavchunk -l 2 -p 0 "$out/song.wav" | mulaw -o "$out/codes.npy"
	qtrain --preset tiny --batch 4 --steps 2 --checkpoint-every 2 --threads 1 -o "$out/run" "$out/codes.npy" 2>/dev/null
	ck=$out/run/best.safetensors
fi

# the stream opens with the last second of the song, then the model carries on
qsample -n 1 -s 0 --format s16 --realtime --prime "$out/song.wav" --prime-seconds 1 --keep-prime "$ck" |
	head -c $((secs * 16000 * 2)) |
	oggenc -Q -r -R 16000 -C 1 -B 16 - -o "$out/live.ogg"
echo "$secs s of a live stream: $out/live.ogg"
soxi -D "$out/live.ogg"
