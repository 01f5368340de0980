#!/bin/sh
# pipelines/album.sh: the shell half of pipelines/album.mk, for what Make's word lists cannot
# hold (file names with spaces) and what needs a decision (continue a training run or start a
# new one). Subcommands:
#   files DIR              the recordings of DIR, one per line, in a stable order
#   stamp FILE TEXT [DIR]  writes TEXT (and DIR's listing: names, sizes, times) to FILE, touched
#                          only when it changes, so that Make redoes only what a change affects
#   chunks OUT RATE DIR    wavchunk over DIR's recordings; the command as run goes to OUT.cmd
#   train WORK IDENT STEPS MINUTES QTRAIN-COMMAND...
#                          trains WORK/run to STEPS steps (or MINUTES minutes of training in
#                          all), continuing the run there when it was made with the same IDENT
#                          and the same codes, else keeping it aside as WORK/run.N and
#                          starting anew; WORK/run/.done once the end is reached
#   step CKPT              the step a checkpoint holds
#   title-seed SEED ARTIST FILE...   a title seed from the album's seed, artist and audio
set -u
prog=album

# Names libsndfile may decode, and names of audio it may not (refused by wavchunk, by name,
# rather than skipped); other files (COPYRIGHT, covers, notes) are not recordings.
audio_ext='wav|wave|flac|ogg|oga|opus|mp3|aif|aiff|aifc|au|snd|caf|w64|rf64|voc|m4a|mp4|aac|wma|ape|alac'

files() {
	dir=$1
	[ -d "$dir" ] || { echo "$prog: $dir: no such folder of recordings" >&2; return 1; }
	find "$dir" -mindepth 1 -maxdepth 1 ! -name '.*' \( -type f -o -type l \) -print | LC_ALL=C sort |
	while IFS= read -r f; do
		ext=$(printf '%s' "${f##*.}" | tr 'A-Z' 'a-z')
		if printf '%s\n' "$ext" | grep -Eqx "$audio_ext"; then printf '%s\n' "$f"; fi
	done
}

ckpt_step() { # the "step" of a checkpoint's metadata (safetensors: 8 bytes, then JSON)
	head -c 262144 "$1" 2>/dev/null | tr -d '\000' | grep -ao '"step": *"[0-9]*"' | head -1 | tr -dc 0-9
}

case ${1:-} in
files)
	files "$2" ;;
stamp)
	out=$2 text=$3 list=
	if [ $# -ge 4 ]; then list=$(files "$4") || exit 2; fi
	mkdir -p "$(dirname "$out")"
	{ printf '%s\n' "$text"
	  [ -z "$list" ] || printf '%s\n' "$list" | while IFS= read -r f; do stat -L -c '%n %s %Y' "$f"; done
	} > "$out.new" || exit 1
	if cmp -s "$out.new" "$out"; then rm -f "$out.new"; else mv "$out.new" "$out"; fi ;;
chunks)
	out=$2 rate=$3 dir=$4 wavchunk=$5
	list=$(files "$dir") || exit 1
	[ -n "$list" ] || { echo "$prog: $dir: no audio files (wav, flac, ogg, mp3, aiff …)" >&2; exit 2; }
	# the file names as arguments, spaces and all
	set --
	while IFS= read -r f; do set -- "$@" "$f"; done <<EOF
$list
EOF
	{ printf '%s -r %s -o %s' "$wavchunk" "$rate" "$out"
	  for f in "$@"; do printf " '%s'" "$(printf '%s' "$f" | sed "s/'/'\\\\''/g")"; done; echo; } > "$out.cmd"
	echo "$(cat "$out.cmd")" >&2
	exec "$wavchunk" -r "$rate" -o "$out" "$@" ;;
step)
	ckpt_step "$2" ;;
title-seed)
	seed=$2 artist=$3; shift 3
	h=$({ printf '%s\n%s\n' "$seed" "$artist"; cat "$@"; } | sha256sum | cut -c1-12)
	echo $((0x$h)) ;;
train)
	work=$2 ident=$3 steps=$4 minutes=$5; shift 5
	run=$work/run
	codes=$work/codes.npy
	ident="$ident codes=$(sha256sum < "$codes" | cut -c1-64)" || exit 1
	rm -f "$run/.done"
	aside() { # aside WHY: keeps the run under the first free WORK/run.N
		n=1
		while [ -e "$run.$n" ]; do n=$((n + 1)); done
		mv "$run" "$run.$n" || exit 1
		echo "$prog: $run: $1; kept as $run.$n (delete it yourself when it is not wanted), starting a new run" >&2
	}
	resume=
	if [ -f "$run/last.safetensors" ]; then
		step=$(ckpt_step "$run/last.safetensors")
		if [ "$(cat "$run/album-run.txt" 2>/dev/null)" != "$ident" ]; then
			aside "trained with other settings or data (was: $(cat "$run/album-run.txt" 2>/dev/null || echo unknown))"
		elif [ -n "$steps" ] && [ "${step:-0}" -gt "$steps" ]; then
			aside "already at step $step, past TRAIN_STEPS=$steps"
		else
			resume=1
		fi
	elif [ -d "$run" ]; then
		rm -rf "$run"   # no checkpoint: nothing was trained there
	fi
	if [ -n "$steps" ]; then
		stop="--steps $steps"
	else
		# TRAIN_MINUTES counts the run's training time, over every continuation
		done_s=0
		if [ -n "$resume" ]; then
			done_s=$(sed -n 's/^  "seconds": \([0-9.]*\).*/\1/p' "$run/run.json" 2>/dev/null)
			[ -n "$done_s" ] || done_s=$(tail -n +2 "$run/log.tsv" 2>/dev/null | tail -1 | cut -f7)
		fi
		left=$(awk -v m="$minutes" -v d="${done_s:-0}" 'BEGIN { l = m - d / 60; if (l > 0) printf "%.6f", l }')
		if [ -z "$left" ]; then
			echo "$prog: $run: $done_s s of training already, TRAIN_MINUTES=$minutes reached" >&2
			touch "$run/.done"
			exit 0
		fi
		stop="--minutes $left"
	fi
	if [ -n "$resume" ]; then
		echo "$prog: $run: continuing from step $step" >&2
		set -- "$@" --resume "$run"
	else
		mkdir -p "$run" && printf '%s\n' "$ident" > "$run/album-run.txt" || exit 1
	fi
	echo "$* $stop" >&2
	"$@" $stop || exit $?
	touch "$run/.done" ;;
*)
	echo "usage: album.sh files|stamp|chunks|train|step|title-seed ..." >&2
	exit 2 ;;
esac
