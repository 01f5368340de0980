#!/bin/sh
# tools/cuda-device-check.sh: the GPU check of docs/cuda.md, for a machine lent for minutes that
# has the CUDA driver and toolkit but none of the project's Debian -dev libraries.
#   bundle DIR   (here, after `make build/tests/test_cuda.t build/tests/test_wavenet_bk.t`): DIR
#                gets the two device tests and the shared libraries they need outside glibc
#                (OpenBLAS, libgomp, libstdc++ & co., about 42 MB): what the device tool carries
#   run DIR OUT  (on the GPU machine, from the repository root): runs them on DIR's libraries;
#                OUT gets NAME.tap for each, nvidia-smi.txt; exit 1 if either failed
set -u
tests="test_cuda test_wavenet_bk"
case ${1:-} in
bundle)
	dir=${2:?usage: $0 bundle DIR}
	for t in $tests; do
		test -x build/tests/$t.t || { echo "$0: build/tests/$t.t not built" >&2; exit 1; }
	done
	rm -rf "$dir" && mkdir -p "$dir/lib" || exit 1
	for t in $tests; do cp build/tests/$t.t "$dir/" || exit 1; done
	ldd build/tests/test_cuda.t | awk '/=>/ { print $3 }' | while read -r so; do
		case $(basename "$so") in
		libc.so.* | libm.so.* | libdl.so.* | librt.so.* | libpthread.so.* | ld-linux*) ;;
		*) cp -L "$so" "$dir/lib/" || exit 1 ;;
		esac
	done
	du -sh "$dir"
	;;
run)
	dir=${2:?usage: $0 run DIR OUT} out=${3:?usage: $0 run DIR OUT}
	mkdir -p "$out"
	nvidia-smi >"$out/nvidia-smi.txt" 2>&1
	rc=0
	for t in $tests; do
		LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$dir/$t.t" >"$out/$t.tap" 2>&1 || rc=1
		cat "$out/$t.tap"
	done
	exit $rc
	;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
