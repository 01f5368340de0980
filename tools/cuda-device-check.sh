#!/bin/sh
# tools/cuda-device-check.sh: the GPU check of docs/cuda.md, for a machine lent for minutes that
# has the CUDA driver and toolkit but none of the project's Debian -dev libraries.
#   bundle DIR   (here, after `make build/tests/test_cuda.t`): DIR gets test_cuda.t and the
#                shared libraries it needs outside glibc (OpenBLAS, libgomp, libstdc++ & co.,
#                about 30 MB): what the device tool carries
#   run DIR OUT  (on the GPU machine, from the repository root): runs DIR/test_cuda.t on DIR's
#                libraries; OUT gets test_cuda.tap, nvidia-smi.txt; the test's exit status
set -u
case ${1:-} in
bundle)
	dir=${2:?usage: $0 bundle DIR}
	test -x build/tests/test_cuda.t || { echo "$0: build/tests/test_cuda.t not built" >&2; exit 1; }
	rm -rf "$dir" && mkdir -p "$dir/lib" || exit 1
	cp build/tests/test_cuda.t "$dir/" || exit 1
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
	LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$dir/test_cuda.t" >"$out/test_cuda.tap" 2>&1
	rc=$?
	cat "$out/test_cuda.tap"
	exit $rc
	;;
*)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
