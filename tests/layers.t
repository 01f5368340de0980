#!/bin/sh
# tests/layers.t: the include rule of lib/layers.txt (lower layers never include higher ones)
# holds on lib/, and tools/check-layers.sh catches a break of it (on a copy of lib/).
. tests/lib.sh

check "lib/ follows lib/layers.txt" sh tools/check-layers.sh .

mkdir -p "$T/up/lib" "$T/new/lib"
cp lib/*.c lib/*.h lib/layers.txt "$T/up/lib/" && cp lib/*.c lib/*.h lib/layers.txt "$T/new/lib/"
printf '#include "train.h"\n' >> "$T/up/lib/npy.c"
fails_with "a base module including train.h is refused" 1 'lib/npy.c: a base module includes train.h of the higher layer train' \
	sh tools/check-layers.sh "$T/up"
printf '/* nowhere in the table */\n#include "util.h"\n' > "$T/new/lib/nowhere.c"
fails_with "a lib/ file missing from the table is refused" 1 'lib/nowhere.c: not in lib/layers.txt' \
	sh tools/check-layers.sh "$T/new"
done_testing
