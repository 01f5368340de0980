#!/bin/sh
# The C sources follow .clang-format (tools/format-check.sh): one test per file that differs,
# naming it and the number of lines clang-format would change. Skipped without clang-format.
. tests/lib.sh
if ! command -v clang-format >/dev/null 2>&1; then
	skip "clang-format is not installed"
	done_testing; exit
fi
out=$(sh tools/format-check.sh lib/*.c lib/*.h lib/*.cu filters/*.c tests/unit/*.c tests/unit/*.h bench/*.c fuzz/*.c)
rc=$?
echo "$out" | grep -v '^format-check:' | while read -r line; do echo "# $line"; done
ok $([ $rc -eq 0 ] && echo 0 || echo 1) "every C file follows .clang-format ($(echo "$out" | tail -n 1 | sed 's/^format-check: //'))"
done_testing
