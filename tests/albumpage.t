#!/bin/sh
# tests/albumpage.t: albumpage on hard inputs (issue 13): what -o may replace, file names that
# need URL encoding, titles that are not UTF-8, a garbage cover, a huge track number, a full
# stdout, SIGTERM while building; curate's rejected clips folded on the page (issue 15). A tiny
# WaveNet run and one-second tracks keep it fast.
. tests/lib.sh
P=$BIN/albumpage

random_codes $T/codes.npy 2 4 2048
tone_wav $T/tone.wav
mkdir -p $T/tracks && sox $T/tone.wav $T/tracks/01.flac && sox $T/tone.wav $T/tracks/02.flac
printf 'track\torder\tclip\tstart\tend\tseconds\n1\t1\tgen_000.wav\t0\t1\t1\n2\t1\tgen_001.wav\t0\t1\t1\n' >$T/tracks/tracklist.tsv
printf 'Deep Water\n100%% #1?\nA b&c\n' >$T/titles
$BIN/qtrain --model wavenet --dilations 1,2 --residual-channels 4 --dilation-channels 4 --skip-channels 8 \
	--n-out 64 --batch 2 --steps 2 --checkpoint-every 2 --split 50,50,0 --threads 1 -o $T/run $T/codes.npy 2>/dev/null
cp $T/run/loss.png $T/cover.png
build() { $P build --artist wn --titles $T/titles --tracks $T/tracks --run $T/run --cover $T/cover.png "$@"; }

check "a build with '#', '?', '%' and '&' in the titles" build -o $T/album
check "the files keep the titles' names" test -s "$T/album/01 - 100% #1?.flac" -a -s "$T/album/02 - A b&c.ogg"
check "the page links them URL-encoded (a '#' or '?' would cut the link)" sh -c "
	grep -q 'src=\"01%20-%20100%25%20%231%3F.ogg\"' $T/album/index.html &&
	grep -q 'href=\"02%20-%20A%20b%26c.flac\"' $T/album/index.html"
check "every link of the page names a file of the album" $PY -c "
import re, urllib.parse, os
html = open('$T/album/index.html').read()
links = re.findall(r'(?:src|href)=\"([^\"]+)\"', html)
assert len(links) >= 8, links
for l in links:
    assert os.path.exists(os.path.join('$T/album', urllib.parse.unquote(l))), l
"

# -o replaces only an earlier album
check "a second build replaces the earlier album" build -o $T/album
mkdir -p $T/mine && echo keep >$T/mine/notes.txt
fails_with "-o DIR that is not an album: refused, exit 1" 1 "albumpage: $T/mine: exists and is not an earlier album" build -o $T/mine
check "... and left as it was, no staging left" sh -c "[ \"\$(ls -A $T/mine)\" = notes.txt ] && ! ls -A $T | grep -F .mine."
echo x >$T/afile
fails_with "-o FILE: refused" 1 "afile: exists and is not a directory" build -o $T/afile
mkdir -p $T/emptydir
check "-o an empty directory: built there" sh -c "$P build --artist wn --titles $T/titles --tracks $T/tracks --run $T/run --cover $T/cover.png -o $T/emptydir 2>/dev/null && test -s $T/emptydir/album.json"

# text that is not UTF-8 is refused (album.json must be valid JSON), naming the line
printf 'Deep Water\nCaf\351\nTwo\n' >$T/latin1
fails_with "a title in Latin-1: refused, naming the line" 1 "latin1: line 2 is not valid UTF-8" \
	$P build --artist wn --titles $T/latin1 --tracks $T/tracks --run $T/run --cover $T/cover.png -o $T/bad1
fails_with "an artist name that is not UTF-8: refused" 1 "--artist: not valid UTF-8" \
	$P build --artist "$(printf 'M\374ller')" --titles $T/titles --tracks $T/tracks --run $T/run --cover $T/cover.png -o $T/bad1
printf 'Deep Water\nCaf\303\251 \360\237\246\210\nTwo\n' >$T/utf8
check "UTF-8 titles (accents, emoji) are fine and album.json parses" sh -c "
	$P build --artist wn --titles $T/utf8 --tracks $T/tracks --run $T/run --cover $T/cover.png -o $T/album8 2>/dev/null &&
	$PY -c \"import json; a = json.load(open('$T/album8/album.json')); assert a['tracks'][0]['title'] == 'Caf\\u00e9 \\U0001f988'\""

# a garbage cover, a huge track number
head -c 5000 /dev/urandom >$T/garbage.png
fails_with "a cover that is not a PNG: refused, naming it" 1 "albumpage: $T/garbage.png: not a PNG image" \
	$P build --artist wn --titles $T/titles --tracks $T/tracks --run $T/run --cover $T/garbage.png -o $T/bad2
mkdir -p $T/huge && cp $T/tracks/01.flac $T/huge/
printf 'track\torder\tclip\tstart\tend\tseconds\n99999999999\t1\tgen_000.wav\t0\t1\t1\n' >$T/huge/tracklist.tsv
fails_with "a huge track number: refused, not overflowed" 1 "tracklist.tsv: line 2: track 9223372036854775807|tracklist.tsv: line 2: track 99999999999" \
	$P build --artist wn --titles $T/titles --tracks $T/huge --run $T/run --cover $T/cover.png -o $T/bad3
printf 'track\torder\tclip\tstart\tend\tseconds\n1000\t1\tgen_000.wav\t0\t1\t1\n' >$T/huge/tracklist.tsv
fails_with "track 1000: refused (curate numbers tracks with at most three digits)" 1 "a track number is 1..999" \
	$P build --artist wn --titles $T/titles --tracks $T/huge --run $T/run --cover $T/cover.png -o $T/bad3
check "no album and no staging left by any refused build" sh -c "! ls -A $T | grep -E '^\.?bad'"

# curate's rejected clips (TRACKS/curation.json), folded on the page with their reasons
mkdir -p $T/cur && cp $T/tracks/* $T/cur/
$PY -c '
import json
def test(rule, score, value, when, option, threshold):
    return {"rule": rule, "score": score, "value": value, "rejects_when": when, "option": option,
            "threshold": threshold, "holds": value > threshold if when == "above" else value < threshold}
clips = [
    {"clip": "/abs/path/gen_000.wav", "status": "kept", "seconds": 1, "scores": {},
     "tests": [test("noise", "noise_fraction", 0.1, "above", "noise-fraction", 0.55)]},
    {"clip": "/abs/path/gen_003.wav", "status": "rejected", "reason": "noise", "reasons": ["noise"], "seconds": 1,
     "scores": {"noise_fraction": 0.83},
     "tests": [test("silence", "loudest_db", -20, "below", "silence-db", -50),
               test("noise", "noise_fraction", 0.83, "above", "noise-fraction", 0.55)]},
    {"clip": "/abs/x<&>y.wav#2", "status": "rejected", "reason": "loop", "reasons": ["loop", "noise"], "seconds": 1,
     "scores": {},
     "tests": [test("noise", "noise_fraction", 0.7, "above", "noise-fraction", 0.55),
               test("loop", "loop_score", 0.95, "above", "loop", 0.9),
               test("loop", "loop_corr", 0.8, "above", "loop-corr", 0.5)]}]
json.dump({"tracks": [], "clips": clips}, open("'$T'/cur/curation.json", "w"), indent=1)
'
check "a build with a curation.json of 2 rejected and 1 kept clips" build --tracks $T/cur -o $T/curalbum
check "the page folds the rejected clips, with a count" \
	grep -q '<details class="rejected">' $T/curalbum/index.html
check "... summary 'Rejected clips (2)'" grep -qF '<summary>Rejected clips (2)</summary>' $T/curalbum/index.html
check "... a line per rejected clip (its base name, each failed test with score, comparison, threshold, option)" \
	grep -qxF '<li>gen_003.wav — noise: noise_fraction 0.83 &gt; 0.55 (--noise-fraction)</li>' $T/curalbum/index.html
check "... a name with <&> escaped, every reason with its tests" \
	grep -qxF '<li>x&lt;&amp;&gt;y.wav#2 — loop: loop_score 0.95 &gt; 0.9 (--loop), loop_corr 0.8 &gt; 0.5 (--loop-corr); noise: noise_fraction 0.7 &gt; 0.55 (--noise-fraction)</li>' $T/curalbum/index.html
check "... two lines, no kept clip, no absolute path" sh -c "
	[ \$(sed -n '/<details/,/<\/details>/p' $T/curalbum/index.html | grep -c '^<li>') = 2 ] &&
	! grep -q 'gen_000\|/abs/' $T/curalbum/index.html"
check "... album.json keeps its format (no curation key)" $PY -c "
import json; assert 'curation' not in json.load(open('$T/curalbum/album.json'))"
check "no curation.json: no list" sh -c "! grep -q '<details' $T/album/index.html"
$PY -c "
import json; d = json.load(open('$T/cur/curation.json'))
d['clips'] = d['clips'][:1]; json.dump(d, open('$T/cur/curation.json', 'w'))"
check "nothing rejected: no list" sh -c "$P build --artist wn --titles $T/titles --tracks $T/cur --run $T/run \
	--cover $T/cover.png -o $T/curalbum 2>/dev/null && ! grep -q '<details' $T/curalbum/index.html"
printf '{"clips": [' >$T/cur/curation.json
fails_with "a malformed curation.json: refused, naming it" 1 "albumpage: $T/cur/curation.json: not valid JSON" \
	build --tracks $T/cur -o $T/badcur
printf '{"clips": [{"clip": "a.wav", "status": "rejected", "reasons": ["noise"]}]}' >$T/cur/curation.json
fails_with "a rejected clip without its tests: refused, naming the file" 1 "albumpage: $T/cur/curation.json: clip 1: rejected without" \
	build --tracks $T/cur -o $T/badcur
printf '{"clips": [], "clips": []}' >$T/cur/curation.json
fails_with "a key repeated: refused" 1 "albumpage: $T/cur/curation.json: not valid JSON" \
	build --tracks $T/cur -o $T/badcur
check "... and no album written" sh -c "! ls -A $T | grep badcur"

# a full stdout is an error
fails_with "titles > /dev/full: exit 1, a write error" 1 "albumpage: stdout: write error" sh -c "$P titles -n 3 >/dev/full"

# SIGTERM while building: no album, no .ALBUM.partial/ (long tracks make the build slow enough)
mkdir -p $T/long
for k in 01 02 03 04 05 06; do sox -n -r 16000 -c 1 $T/long/$k.flac synth 40 pinknoise vol 0.3; done
$PY -c "
print('track\torder\tclip\tstart\tend\tseconds')
for k in range(1, 7): print('%d\t1\tgen_%03d.wav\t0\t40\t40' % (k, k))" >$T/long/tracklist.tsv
printf 'L\n1\n2\n3\n4\n5\n6\n' >$T/ltitles
$P build --artist wn --titles $T/ltitles --tracks $T/long --run $T/run --cover $T/cover.png -o $T/killed 2>/dev/null &
pid=$!
i=0
while ! ls $T/.killed.partial/*.ogg >/dev/null 2>&1 && kill -0 $pid 2>/dev/null && [ $i -lt 3000 ]; do
	sleep 0.01; i=$((i + 1))
done
if kill -TERM $pid 2>/dev/null; then
	wait $pid
	ok $(( $? == 143 ? 0 : 1 )) "SIGTERM while building: killed by the signal"
	check "... no album and no .killed.partial/ left" sh -c "! ls -A $T | grep killed"
else
	wait $pid
	skip "SIGTERM while building: the build finished first"
	skip "... nothing left"
fi
done_testing
