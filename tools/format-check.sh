#!/bin/sh
# tools/format-check.sh [FILE...]: lists the C files (default: lib/ filters/ tests/unit/ bench/)
# that differ from what clang-format makes of them with the repository's .clang-format, with the
# number of lines that would change, then a count. Changes nothing. Exit 1 if any differs, 2
# without clang-format (Debian: apt-get install clang-format).
cd "$(dirname "$0")/.." || exit 2
command -v clang-format >/dev/null 2>&1 || { echo "format-check: clang-format not installed" >&2; exit 2; }
[ $# -gt 0 ] || set -- lib/*.c lib/*.h lib/*.cu filters/*.c tests/unit/*.c tests/unit/*.h bench/*.c
n=0 differ=0
for f in "$@"; do
	n=$((n + 1))
	lines=$(clang-format --style=file "$f" | diff "$f" - | grep -c '^>')
	if [ "$lines" -gt 0 ]; then
		differ=$((differ + 1))
		printf '%s: %d lines differ\n' "$f" "$lines"
	fi
done
echo "format-check: $differ of $n files differ from .clang-format"
[ "$differ" -eq 0 ]
