#!/bin/sh
# The album pipeline end to end (make album-quick on the asc-music tracks), the album it
# makes (files, record, checksums), its player page in headless Chromium (every track loads
# with its duration), exact reproduction (make reproduce), and bad input at each stage.
. tests/lib.sh
A=sharks-test
Q=$A-quick
cleanup() { rm -rf work/$Q album/$A album/.$A.* work/$A-bad* album/$A-bad*; }
cleanup
trap 'cleanup; rm -rf "$T"' EXIT

# titles: from the seed, the same every time, other seeds other titles; or from a file
$BIN/albumpage titles --seed 3 -n 5 > $T/t1 && $BIN/albumpage titles --seed 3 -n 5 > $T/t2 && $BIN/albumpage titles --seed 4 -n 5 > $T/t3
check "titles: an album title and one per track, the same for a seed" sh -c "[ \$(wc -l < $T/t1) = 6 ] && cmp -s $T/t1 $T/t2 && ! cmp -s $T/t1 $T/t3 && [ \$(sort -u $T/t1 | wc -l) = 6 ]"
printf 'Album\nOne\n' > $T/few
fails_with "titles: a file with too few titles" 1 "few: 2 titles, 6 needed" $BIN/albumpage titles -n 5 --titles $T/few
fails_with "albumpage build without its inputs" 2 "build needs" $BIN/albumpage build -o $T/x

# a WaveNet album: the page names the model and its input layer (one track of a tone, tiny models)
random_codes $T/wcodes.npy 2 4 2048
tone_wav $T/tone.wav
mkdir -p $T/wtracks && sox $T/tone.wav $T/wtracks/01.flac
printf 'track\torder\tclip\tstart\tend\tseconds\n1\t1\tgen_000.wav\t0\t1\t1\n' > $T/wtracks/tracklist.tsv
printf 'Deep Water\nFin\n' > $T/wtitles
for mode in onehot embed scalar; do
	$BIN/qtrain --model wavenet --input $mode --dilations 1,2,4 --residual-channels 4 --dilation-channels 4 \
		--skip-channels 8 --n-out 64 --batch 2 --steps 2 --checkpoint-every 2 --split 50,50,0 --threads 1 \
		-o $T/wrun_$mode $T/wcodes.npy 2>/dev/null
	$BIN/albumpage build --artist wn --titles $T/wtitles --tracks $T/wtracks --run $T/wrun_$mode \
		--cover $T/wrun_$mode/loss.png -o $T/walbum_$mode 2>$T/walbum_$mode.err
done
check "albumpage: a WaveNet's page names its one-hot input" grep -q "A WaveNet (one-hot input, dilations 1,2,4" $T/walbum_onehot/index.html
check "albumpage: its embedded input" grep -q "A WaveNet (an embedding of 4 values as input" $T/walbum_embed/index.html
check "albumpage: its scalar input" grep -q "A WaveNet (scalar input over 32 samples" $T/walbum_scalar/index.html

make --no-print-directory data >/dev/null 2>&1
check "make album-quick runs the whole pipeline" make --no-print-directory album-quick ARTIST=$A AUDIO=data/asc-music \
	CURATE_FLAGS='--crossfade 0.5'
D=album/$A
check "album-quick writes album/ARTIST/, its work in work/ARTIST-quick/" test -s $D/index.html -a -d work/$Q/run
check "album-quick keeps the user's CURATE_FLAGS" grep -q "^CURATE_FLAGS=--noise-fraction 1 --min-seconds 2 --crossfade 0.5" $D/settings.txt
check "the page's make album line holds every setting" sh -c "
	grep -q \"make album ARTIST='$A' AUDIO='data/asc-music' WORK='work/$Q' MODEL='samplernn' PRESET='tiny' TRAIN_STEPS='40' .*TEMP='0.95' RATE='16000' TRACK_MINUTES='0.25' .*TRAIN_FLAGS='--checkpoint-every 20 .*' .*CURATE_FLAGS='--noise-fraction 1 --min-seconds 2 --crossfade 0.5'\" $D/album.json"
check "the page links the clips written at each checkpoint while training, per step" sh -c "
	grep -q '<li>step 20: <a href=\"training-step0000020_0.wav\">clip 1</a> <a href=\"training-step0000020_1.wav\">clip 2</a>' $D/index.html &&
	grep -q '<li>step 40:' $D/index.html && test -s $D/training-step0000040_1.wav"
check "log.tsv has the clips' distance to held-out audio at those steps" sh -c "
	tail -n +2 work/$Q/run/log.tsv | cut -f8 | grep -qv nan"
check "curate is given the rate" grep -q "curate .*-r 16000 " $D/album.json
check "every track as FLAC and Ogg, with its spectrogram" sh -c "
	n=\$(ls '$D' | grep -c '^[0-9][0-9] - .*\.flac\$'); [ \$n -ge 1 ] &&
	[ \$n = \$(ls '$D' | grep -c '^[0-9][0-9] - .*\.ogg\$') ] && [ \$n = \$(ls '$D' | grep -c '^[0-9][0-9] - .*\.png\$') ]"
check "cover, training curve, page, record" test -s $D/cover.png -a -s $D/loss.png -a -s $D/index.html -a -s $D/album.json
check "SHA256SUMS lists and verifies every file" sh -c "cd '$D' && sha256sum --quiet -c SHA256SUMS &&
	[ \$(ls | grep -vc '^SHA256SUMS\$') = \$(wc -l < SHA256SUMS) ]"
check "album.json: titles, durations, clips, model and training" $PY -c '
import json, wave
a = json.load(open("'$D'/album.json"))
assert a["artist"] == "'$A'" and a["title"]
for t in a["tracks"]:
    assert t["title"] and t["seconds"] > 0 and t["clips"], t
    import subprocess
assert a["model"]["format"] == "sharks" and a["training"]["steps"] == 40
assert a["training"]["best_valid_bits"] < 8
assert "qtrain" in a["commands"] and "--steps 40" in a["commands"]
'

# the page in a browser: every audio element loads and reports its track's duration
if command -v chromium >/dev/null 2>&1; then
	cat > $T/probe.html <<'HTML'
<!doctype html><html><body><pre id="out">pending</pre><iframe id="f" src="album/index.html"></iframe><script>
const f = document.getElementById('f');
f.onload = () => {
  const d = f.contentDocument, audios = [...d.querySelectorAll('audio')];
  Promise.all(audios.map(a => new Promise(ok => {
    const done = () => ok({src: a.getAttribute('src'), want: +a.dataset.seconds, got: a.duration, err: a.error ? a.error.code : 0});
    if (a.readyState >= 1) done(); else { a.addEventListener('loadedmetadata', done); a.addEventListener('error', done); a.load(); }
  }))).then(r => {
    const imgs = [...d.querySelectorAll('img')].map(i => i.complete && i.naturalWidth > 0);
    document.getElementById('out').textContent = 'RESULT ' + JSON.stringify({audio: r, img: imgs});
  });
};
</script></body></html>
HTML
	ln -s "$ROOT/$D" $T/album
	chrome() { profile=$1; shift; timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir=$T/chrome-$profile \
		--allow-file-access-from-files "$@"; }
	chrome a --virtual-time-budget=20000 --dump-dom file://$T/probe.html 2>/dev/null | grep -o 'RESULT {.*}' | head -1 | cut -c8- > $T/probe.json
	check "Chromium: every audio element loads with its track's duration, every image shows" $PY -c '
import json
r = json.load(open("'$T'/probe.json"))
assert r["audio"] and all(r["img"]), r
for a in r["audio"]:
    assert a["err"] == 0 and abs(a["got"] - a["want"]) < 0.05, a
print("# %d tracks, durations %s" % (len(r["audio"]), [round(a["got"], 2) for a in r["audio"]]))
'
	mkdir -p build
	rm -f build/album-screenshot.png
	chrome b --hide-scrollbars --window-size=1100,1400 --screenshot=$ROOT/build/album-screenshot.png "file://$ROOT/$D/index.html" 2>/dev/null
	# the same screenshot of an empty page: a page that draws nothing (no cover, no spectrograms,
	# no text) compresses as well as it does
	printf '<!doctype html><title>empty</title>\n' > $T/empty.html
	chrome c --hide-scrollbars --window-size=1100,1400 --screenshot=$T/empty.png "file://$T/empty.html" 2>/dev/null
	check "a screenshot of the page (build/album-screenshot.png): 1100x1400, with far more drawn in it than an empty page" $PY -c '
import struct, sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert a[:8] == b"\x89PNG\r\n\x1a\n" and a[12:16] == b"IHDR", "not a PNG"
assert struct.unpack(">II", a[16:24]) == (1100, 1400), struct.unpack(">II", a[16:24])
assert len(a) > 20 * len(b), (len(a), len(b))
print("# %d bytes, an empty page %d" % (len(a), len(b)))' build/album-screenshot.png $T/empty.png
else
	skip "chromium not installed (make test-deps installs it)"
	skip "no screenshot without chromium"
fi

check "make reproduce: every file identical" sh -c "make --no-print-directory reproduce ARTIST=$A > $T/repro.out 2>&1"
sed "s/^/# /" $T/repro.out | head -3; grep "^different" $T/repro.out | sed "s/^/# /"
check "reproduce printed identical for each file, nothing different" sh -c "
	grep -q '^identical  album.json' $T/repro.out && ! grep -q '^different' $T/repro.out"

# bad input: a clear message at the stage that failed, no album
mkdir -p $T/empty $T/short $T/corrupt
sox -n -r 16000 -c 1 $T/short/a.wav synth 3 sine 440 2>/dev/null
sox -n -r 16000 -c 1 $T/corrupt/good.wav synth 20 sine 440 2>/dev/null
head -c 3000 /dev/urandom > $T/corrupt/broken.wav
fails_with "a folder without audio" 2 "empty: no audio files" make --no-print-directory album ARTIST=$A-bad1 AUDIO=$T/empty
fails_with "too little audio for one chunk" 2 "wavchunk: .*as long as one chunk" make --no-print-directory album ARTIST=$A-bad2 AUDIO=$T/short
fails_with "a corrupt file among good ones is refused, named" 2 "broken.wav" make --no-print-directory album ARTIST=$A-bad3 AUDIO=$T/corrupt
ok $(ls -d album/$A-bad* 2>/dev/null | grep -q . && echo 1 || echo 0) "no album directory from a failed pipeline"
fails_with "a full disk is a write error, not silent garbage" 1 "write error" sh -c "$BIN/wavchunk $T/corrupt/good.wav > /dev/full"
# --- the options every program answers
std_options albumpage titles -n
std_options albumpage build -o
done_testing
