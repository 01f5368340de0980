#!/bin/sh
# Long album runs under Make (pipelines/album.mk, pipelines/album.sh): training continues from
# its last checkpoint after an interruption or when more steps are asked for, and gives the same
# checkpoint bytes as a straight run; changed settings start a new run and keep the old one
# aside; user flags that the pipeline's settings give are refused, not silently overridden;
# recordings with spaces in their names and AIFF files are taken, other audio names refused.
# A tiny model on two 16 s recordings, a few small steps: the checks are of bytes, not music.
. tests/lib.sh
P=sharks-resume
cleanup() { rm -rf work/$P-* album/$P-*; }
cleanup
trap 'cleanup; rm -rf "$T"' EXIT

mkdir -p $T/rec
sox -n -r 16000 -c 1 "$T/rec/a tone.wav" synth 16 sine 220 sine 330 vol 0.5 2>/dev/null
sox -n -r 16000 -c 1 $T/rec/b.aif synth 16 pluck 440 vol 0.5 2>/dev/null
echo "not a recording" > $T/rec/COPYRIGHT
FL='--batch 2 --seq 256 --checkpoint-every 2 --split 100,0,0'
train() { # train ARTIST [VAR=value...]: make album-train on the recordings above
	a=$1; shift
	make --no-print-directory album-train ARTIST=$P-$a AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS="$FL" "$@"
}
ckstep() { sh pipelines/album.sh step "$1"; }

check "a straight run of 6 steps (a name with a space, an AIFF file, COPYRIGHT ignored)" train straight TRAIN_STEPS=6
check "  it read both recordings" grep -q "a tone.wav' '.*b.aif'" work/$P-straight/chunks.npy.cmd
check "4 steps, then TRAIN_STEPS=6: the same run continues" sh -c "
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=4 &&
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=6 2>$T/more.err;
	grep -q 'continuing from step 4' $T/more.err"
check "  its checkpoint is byte-identical to the straight run's" cmp work/$P-straight/run/last.safetensors work/$P-more/run/last.safetensors
check "  and so is its best" cmp work/$P-straight/run/best.safetensors work/$P-more/run/best.safetensors
check "the same command again: up to date, no training" sh -c "
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=6 2>&1 | { ! grep -q qtrain; }"

# Ctrl-C under make: the process group gets SIGINT once the first checkpoint is written; the
# same command again continues from it to the same bytes. 30 steps, so that the signal lands
# before the end even on a loaded machine (6 steps could all be done before it arrived).
check "a straight run of 30 steps" train straight30 TRAIN_STEPS=30
( setsid make --no-print-directory album-train ARTIST=$P-cut AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS="$FL" TRAIN_STEPS=30 \
	>$T/cut1.out 2>&1 & echo $! > $T/cut.pid; wait )  &
i=0
while [ $i -lt 3000 ] && [ ! -s work/$P-cut/run/log.tsv ]; do sleep 0.02; i=$((i + 1)); done
[ -s $T/cut.pid ] && kill -INT -$(cat $T/cut.pid) 2>/dev/null
wait
cut_at=$(ckstep work/$P-cut/run/last.safetensors)
echo "# interrupted at step $cut_at"
check "interrupted: make failed and left no done mark" test ! -e work/$P-cut/run/.done
check "the same command continues from the checkpoint of the interruption" sh -c "
	make --no-print-directory album-train ARTIST=$P-cut AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=30 2>$T/cut2.err;
	grep -q 'continuing from step $cut_at' $T/cut2.err && [ $cut_at -lt 30 ]"
check "  to the straight run's bytes" cmp work/$P-straight30/run/last.safetensors work/$P-cut/run/last.safetensors

# TRAIN_MINUTES counts the run's training time over its continuations
check "TRAIN_MINUTES: a larger value continues the same run" sh -c "
	make --no-print-directory album-train ARTIST=$P-min AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_MINUTES=0.02 2>/dev/null &&
	s1=\$(sh pipelines/album.sh step work/$P-min/run/last.safetensors) &&
	make --no-print-directory album-train ARTIST=$P-min AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_MINUTES=0.04 2>$T/min.err &&
	grep -q \"continuing from step \$s1\" $T/min.err && [ \$(sh pipelines/album.sh step work/$P-min/run/last.safetensors) -gt \$s1 ]"

# a changed setting: a new run; the old one kept, never deleted
cp work/$P-more/run/last.safetensors $T/more.last
check "another SEED starts a new run" sh -c "
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=2 SEED=5 2>$T/seed.err &&
	grep -q 'kept as work/$P-more/run.1' $T/seed.err && [ \$(sh pipelines/album.sh step work/$P-more/run/last.safetensors) = 2 ]"
check "  the old run is kept whole as run.1" cmp $T/more.last work/$P-more/run.1/last.safetensors
check "fewer TRAIN_STEPS than a run has: a new run, the old one kept as run.2" sh -c "
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=6 SEED=5 >/dev/null 2>&1 &&
	make --no-print-directory album-train ARTIST=$P-more AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL' TRAIN_STEPS=4 SEED=5 2>$T/few.err;
	grep -q 'past TRAIN_STEPS=4' $T/few.err && test -s work/$P-more/run.2/last.safetensors"
check "--keep-every: milestone checkpoints beside last and best" sh -c "
	make --no-print-directory album-train ARTIST=$P-keep AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS='$FL --keep-every 4' TRAIN_STEPS=6 2>/dev/null &&
	[ \"\$(cd work/$P-keep/run && ls step*.safetensors)\" = step0000004.safetensors ]"

# a user's flag that a setting gives is refused, with the setting to use
fails_with "SAMPLE_FLAGS='--seed 7 -t 0.8' is refused, naming SEED and TEMP" 2 "SAMPLE_FLAGS: --seed is set by the pipeline \(use SEED=…\).*-t is set by the pipeline \(use TEMP=…\)" \
	make --no-print-directory album-sample ARTIST=$P-straight AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS="$FL" TRAIN_STEPS=6 SAMPLE_FLAGS='--seed 7 -t 0.8'
fails_with "TRAIN_FLAGS with -r is refused, naming RATE" 2 "TRAIN_FLAGS: -r22050 is set by the pipeline \(use RATE=…\)" \
	train straight TRAIN_STEPS=6 TRAIN_FLAGS="$FL -r22050"
fails_with "CURATE_FLAGS with --track-minutes is refused" 2 "CURATE_FLAGS: --track-minutes=2 is set by the pipeline \(use TRACK_MINUTES=…\)" \
	make --no-print-directory album-curate ARTIST=$P-straight AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS="$FL" TRAIN_STEPS=6 CURATE_FLAGS='--track-minutes=2'
check "  and nothing was retrained by those" test "$(ckstep work/$P-straight/run/last.safetensors)" = 6

# audio that libsndfile does not decode is refused by name, not skipped
head -c 4000 /dev/urandom > "$T/rec/c track.m4a"
fails_with "an .m4a file is refused by name" 2 "c track.m4a" train m4a TRAIN_STEPS=2
rm "$T/rec/c track.m4a"
fails_with "a named artist without AUDIO is a usage error" 2 "needs AUDIO=" \
	make --no-print-directory album-train ARTIST=$P-noaudio
# curate keeping nothing: its reasons, then what to do
fails_with "curate rejects every clip of a barely trained model: why, and what to do" 2 \
	"curate kept no track .*train longer \(TRAIN_MINUTES=, TRAIN_STEPS=; the run continues\), or keep what it makes with CURATE_FLAGS='--noise-fraction 1'" \
	make --no-print-directory album-curate ARTIST=$P-straight AUDIO=$T/rec PRESET=tiny TRAIN_FLAGS="$FL" TRAIN_STEPS=6 CLIPS=2 SECONDS=4
cp $T/.err $T/curate.err
check "  after curate's own reasons" grep -q "curate: all 2 clips rejected" $T/curate.err
check "  the scores that decided it are kept, and the album goes no further (no tracklist)" sh -c "
	test -s work/$P-straight/tracks/curation.json && ! test -e work/$P-straight/tracks/tracklist.tsv &&
	grep -q 'scores in work/$P-straight/tracks/curation.json' $T/curate.err"

# a stage swapped for another program is recorded, and make reproduce names it
check "a swapped stage goes into the album's record (SWAPPED)" sh -c "
	[ \"\$(make --no-print-directory -s --eval 'print-swapped: ; @echo \$(SWAPPED)' print-swapped QTRAIN=my/qtrain)\" = 'QTRAIN=my/qtrain' ] &&
	[ -z \"\$(make --no-print-directory -s --eval 'print-swapped: ; @echo \$(SWAPPED)' print-swapped)\" ]"
mkdir -p album/$P-swapped
printf '%s\n' "ARTIST=$P-swapped" "AUDIO=$T/none" "QTRAIN=my/qtrain" > album/$P-swapped/settings.txt
: > album/$P-swapped/SHA256SUMS
fails_with "make reproduce says which stage was swapped" 2 "made with swapped stages: QTRAIN=my/qtrain" \
	make --no-print-directory reproduce ARTIST=$P-swapped

# titles: from the seed, the artist and the album's audio (not the seed alone)
printf 'x' > $T/a1; printf 'y' > $T/a2
s1=$(sh pipelines/album.sh title-seed 1 artist-a $T/a1) s2=$(sh pipelines/album.sh title-seed 1 artist-b $T/a1)
s3=$(sh pipelines/album.sh title-seed 1 artist-a $T/a2) s4=$(sh pipelines/album.sh title-seed 1 artist-a $T/a1)
check "the title seed depends on the artist and the audio, and is the same for the same album" \
	test "$s1" != "$s2" -a "$s1" != "$s3" -a "$s1" = "$s4"
t1=$($BIN/albumpage titles --seed $s1 -n 3 | head -1) t2=$($BIN/albumpage titles --seed $s2 -n 3 | head -1)
check "  so two artists with the same SEED get other album titles ($t1, $t2)" test "$t1" != "$t2"
done_testing
