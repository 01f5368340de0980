#!/bin/sh
# bench/curate-corpus.sh: builds the labelled corpus that calibrates `curate` (issue 15) under
# data/curate-corpus/ (gitignored): music packaged in Debian in several genres, fetched with
# apt-get download and unpacked with dpkg-deb, each package's copyright file kept beside its
# audio; then bench/curate_corpus.py cuts excerpts of the music and makes the junk.
#
#   bench/curate-corpus.sh [DIR]     (DIR defaults to data/curate-corpus)
#
# Needs apt-get (an `apt-get update` done), dpkg-deb, sox and python3-numpy. Rerunning skips
# packages already unpacked. The model's own early failures (clips sampled from a qtrain
# checkpoint at a few hundred steps) are added by bench/curate.sh when BIN holds qtrain and
# qsample (CURATE_CORPUS_QTRAIN=0 to skip).
set -e
DIR=${1:-data/curate-corpus}
mkdir -p "$DIR/debs" "$DIR/pkg"
# package  genre: as the package describes its music (and as it sounds)
PACKAGES="
asc-music electronic
fretsonfire-songs-muldjord rock
fretsonfire-songs-sectoid metal
hyperrogue-music ambient
singularity-music orchestral
nexuiz-music electronic
drascula-music orchestral
"
echo "$PACKAGES" | while read -r pkg genre; do
	[ -n "$pkg" ] || continue
	if [ ! -e "$DIR/pkg/$pkg/.ok" ]; then
		(cd "$DIR/debs" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg")
		rm -rf "$DIR/pkg/$pkg"
		dpkg-deb -x "$DIR/debs/$pkg"_*.deb "$DIR/pkg/$pkg"
		echo "$genre" >"$DIR/pkg/$pkg/genre"
		touch "$DIR/pkg/$pkg/.ok"
	fi
done
# the licence of each package, in one file (the asc-music tracks the model below learns from
# are among them)
for d in "$DIR"/pkg/*/; do
	pkg=$(basename "$d")
	echo "== $pkg ($(cat "$d/genre"))"
	cat "$d/usr/share/doc/$pkg/copyright" 2>/dev/null || echo "(no copyright file)"
done >"$DIR/COPYRIGHT"
/usr/bin/python3 bench/curate_corpus.py "$DIR"

# what our models make early in training: a tiny SampleRNN trained on asc-music (from the
# corpus, so no `make data` is needed) for 50 .. 350 steps, 6 clips of 12 s from each
# checkpoint. A few minutes on one core.
BIN=${BIN:-bin}
if [ "${CURATE_CORPUS_QTRAIN:-1}" != 0 ] && [ -x "$BIN/qtrain" ] && [ ! -e "$DIR/clips/junk-qtrain-350.npy" ]; then
	q=$DIR/qtrain
	mkdir -p "$q"
	"$BIN/wavchunk" -r 16000 -o "$q/chunks.npy" "$DIR"/pkg/asc-music/usr/share/games/asc/music/*.mp3
	"$BIN/mulaw" -o "$q/codes.npy" "$q/chunks.npy"
	rm -rf "$q/run"
	for steps in 50 100 150 200 250 300 350; do
		if [ -e "$q/run/last.safetensors" ]; then resume="--resume $q/run"; else resume=""; fi
		"$BIN/qtrain" --preset tiny --threads 1 --steps $steps --checkpoint-every 50 --seed 7 \
			-r 16000 $resume -o "$q/run" "$q/codes.npy"
		"$BIN/qsample" --threads 1 -n 6 -s 12 --seed $steps --format f32 \
			-o "$DIR/clips/junk-qtrain-$steps.npy" "$q/run/last.safetensors"
	done
fi
