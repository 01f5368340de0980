#!/bin/sh
# tests/examples.t: every examples/*.sh runs from the repository root on its own generated
# input and succeeds, so the examples in the docs keep working.
. tests/lib.sh
command -v sox >/dev/null 2>&1 || { skip "sox not installed (the examples generate their input with it)"; done_testing; exit; }
for e in examples/*.sh; do
	name=$(basename "$e" .sh)
	if PATH="$BIN:$PATH" OUT="$T/$name" timeout 120 sh "$e" >"$T/$name.log" 2>&1; then
		ok 0 "$e runs"
	else
		ok 1 "$e runs"
		sed 's/^/#   /' "$T/$name.log" | tail -10
	fi
done
done_testing
