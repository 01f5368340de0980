#!/bin/sh
# pipelines/reproduce.sh ALBUMDIR: rebuilds an album from the settings it records, in a
# scratch copy of this tree (so every path, and with it every recorded command, is the same),
# then compares each file listed in the album's SHA256SUMS and prints identical or different.
# Exit 0 when all are identical, 1 otherwise.
set -u
album=${1:?usage: reproduce.sh ALBUMDIR}
case $album in /*) echo "reproduce: $album: give the album as a path inside this tree (album/NAME)" >&2; exit 1 ;; esac
[ -f "$album/settings.txt" ] || { echo "reproduce: $album/settings.txt: no album record to reproduce" >&2; exit 1; }
[ -f "$album/SHA256SUMS" ] || { echo "reproduce: $album/SHA256SUMS: missing" >&2; exit 1; }
root=$(pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sharks-reproduce.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# everything but the outputs, linked: the same relative paths, the same programs
for f in "$root"/* "$root"/.[!.]*; do
	case $(basename "$f") in work|album|.git|.|..) ;; *) ln -s "$f" "$scratch/$(basename "$f")" ;; esac
done
set --
swapped=
while IFS= read -r line; do
	set -- "$@" "$line"
	case $line in WAVCHUNK=*|MULAW=*|QTRAIN=*|QSAMPLE=*|CURATE=*|ALBUMART=*|ALBUMPAGE=*) swapped="$swapped ${line}" ;; esac
done < "$album/settings.txt"
# a stage made by another program than this tree's: said before, and with the verdict
[ -n "$swapped" ] && echo "reproduce: $album was made with swapped stages:$swapped (rebuilt with them too)" >&2
echo "reproduce: rebuilding $album in $scratch with: $*" >&2
( cd "$scratch" && make --no-print-directory album-build "$@" ALBUM="$album" ) >"$scratch.log" 2>&1 || {
	echo "reproduce: the pipeline failed; its output:" >&2; tail -20 "$scratch.log" >&2; rm -f "$scratch.log"; exit 1; }
rm -f "$scratch.log"
status=0
while read -r sum name; do
	new=$(sha256sum "$scratch/$album/$name" 2>/dev/null | cut -d' ' -f1)
	if [ "$new" = "$sum" ]; then echo "identical  $name"; else echo "different  $name"; status=1; fi
done < "$album/SHA256SUMS"
if cmp -s "$album/SHA256SUMS" "$scratch/$album/SHA256SUMS"; then echo "identical  SHA256SUMS"; else echo "different  SHA256SUMS"; status=1; fi
[ $status = 0 ] && echo "reproduce: every file of $album is identical" >&2 ||
	echo "reproduce: $album differs${swapped:+ (made with swapped stages:$swapped; a program that is not this tree's need not reproduce)}" >&2
exit $status
