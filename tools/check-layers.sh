#!/bin/sh
# tools/check-layers.sh [ROOT]: checks the include rule of lib/layers.txt on ROOT/lib (default
# the current folder): prints (on stderr) one line per include of a higher layer's header, and per lib/
# file or included lib/ header that layers.txt does not place; exits 1 if there is any.
root=${1:-.}
awk -v root="$root" '
function module(path,   m) {          # lib/x/NAME_real.c -> NAME
	m = path; sub(/.*\//, "", m); sub(/\.(c|h|cu)$/, "", m); sub(/_real$/, "", m); return m
}
FNR == 1 { file++ }
file == 1 {                            # the table
	if ($0 ~ /^[ \t]*(#|$)/) next
	if ($1 == "allow") { allowed[$2 " " $3] = 1; next }
	layers++; name[layers] = $1
	for (i = 2; i <= NF; i++) rank[$i] = layers
	next
}
FNR == 1 {
	m = module(FILENAME)
	if (!(m in rank)) { print FILENAME ": not in lib/layers.txt"; bad++ }
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
	inc = module(h); m = module(FILENAME)
	if (!(inc in rank)) { print FILENAME ": includes " h ", which lib/layers.txt does not place"; bad++; next }
	if ((m in rank) && rank[inc] > rank[m] && !((m " " inc) in allowed)) {
		print FILENAME ": a " name[rank[m]] " module includes " h " of the higher layer " name[rank[inc]]
		bad++
	}
}
END { exit bad > 0 }
' "$root/lib/layers.txt" "$root"/lib/*.c "$root"/lib/*.h $(ls "$root"/lib/*.cu 2>/dev/null) >&2
