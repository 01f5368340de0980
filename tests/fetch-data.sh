#!/bin/sh
# Fetches Debian's asc-music package (three GPL-2+ tracks by Michael Kievernagel, MP3)
# with `apt-get download` and unpacks its tracks into DIR (default data/asc-music).
set -e
dir=${1:-data/asc-music}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && apt-get download asc-music >/dev/null 2>&1 ) || {
	[ "$(id -u)" = 0 ] && apt-get update -qq && ( cd "$tmp" && apt-get download asc-music >/dev/null )
} || { echo "fetch-data: apt-get download asc-music failed" >&2; exit 1; }
dpkg-deb -x "$tmp"/asc-music_*.deb "$tmp/x"
cp "$tmp"/x/usr/share/games/asc/music/*.mp3 "$dir"/
cp "$tmp"/x/usr/share/doc/asc-music/copyright "$dir"/COPYRIGHT
touch "$dir/.ok"
echo "fetch-data: $(ls "$dir"/*.mp3 | wc -l) tracks in $dir" >&2
