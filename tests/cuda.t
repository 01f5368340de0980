#!/bin/sh
# --device of qtrain and qsample (lib/backend.h, docs/cuda.md): cpu is today's path; cuda is
# refused with its reason (no GPU here, a build without CUDA, or what was asked not yet ported to
# the device: SampleRNN, generation) with exit 1 and nothing written: no run directory, no output
# file, nothing on stdout; an unknown device is a usage error. Where a GPU is: WaveNet trains on
# it with the CPU's losses, and its checkpoint resumes on the CPU.
. tests/lib.sh

random_codes $T/codes.npy 1 6 4096
why='(no CUDA device found \(cudaGetDeviceCount: .+\)|built without CUDA support|found .+, but .+ does not run on the CUDA backend yet)'

fails_with "qtrain --device cuda: refused with the reason" 1 "^qtrain: --device cuda: $why" \
	$BIN/qtrain --preset tiny --steps 1 --threads 1 --device cuda -o $T/run $T/codes.npy
check "qtrain --device cuda: no run directory" test ! -e $T/run
fails_with "qtrain --device banana: usage error naming the choices" 2 \
	"^qtrain: --device: unknown device 'banana' \(cpu or cuda\)" \
	$BIN/qtrain --preset tiny --steps 1 --device banana -o $T/run $T/codes.npy
check "qtrain --device banana: no run directory" test ! -e $T/run
check "qtrain --device cpu: trains as without it" \
	$BIN/qtrain --preset tiny --steps 2 --checkpoint-every 2 --threads 1 --device cpu -q -o $T/run $T/codes.npy
check "qtrain --device cpu: a checkpoint" test -f $T/run/best.safetensors

CK=$T/run/best.safetensors
fails_with "qsample --device cuda: refused with the reason" 1 "^qsample: --device cuda: $why" \
	$BIN/qsample -n 1 -s 0.1 --device cuda -o $T/a.wav $CK
check "qsample --device cuda: no output file" test ! -e $T/a.wav
fails_with "qsample --device cuda to stdout: refused" 1 "^qsample: --device cuda: $why" \
	$BIN/qsample -n 1 -s 0.1 --device cuda $CK
cp $T/.out $T/cuda.stdout
check "qsample --device cuda to stdout: nothing written" test ! -s $T/cuda.stdout
fails_with "qsample --device banana: usage error" 2 "^qsample: --device: unknown device 'banana' \(cpu or cuda\)" \
	$BIN/qsample -n 1 -s 0.1 --device banana $CK
$BIN/qsample -n 1 -s 0.1 --seed 3 $CK >$T/plain.npy 2>/dev/null
$BIN/qsample -n 1 -s 0.1 --seed 3 --device cpu $CK >$T/cpu.npy 2>/dev/null
check "qsample --device cpu: the same bytes as without it" cmp $T/plain.npy $T/cpu.npy
check "qsample --device cpu: a record" test -s $T/cpu.npy

# WaveNet trains on the device (wavenet_bk.c through model_use_backend)
W="--model wavenet --preset tiny --steps 4 --checkpoint-every 2 --threads 1 -q"
$BIN/qtrain $W --device cuda -o $T/wg $T/codes.npy 2>$T/wg.err
if grep -Eq "no CUDA device found|built without CUDA support" $T/wg.err; then
	check "qtrain --model wavenet --device cuda without a GPU: refused, nothing written" test ! -e $T/wg
	skip "no GPU: WaveNet's losses on the device against the CPU"
	skip "no GPU: a device run's checkpoint resumes on the CPU"
else
	check "qtrain --model wavenet --device cuda: a checkpoint" test -f $T/wg/last.safetensors
	$BIN/qtrain $W --device cpu -o $T/wc $T/codes.npy 2>/dev/null
	check "WaveNet on the device: the CPU's training and validation losses within 1e-4" $PY -c '
import sys
def rows(p):
    return [l.split("\t") for l in open(p).read().split("\n")[1:] if l]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == len(b) == 2, (a, b)
for x, y in zip(a, b):
    for k in (2, 3):
        assert abs(float(x[k]) - float(y[k])) <= 1e-4 * abs(float(y[k])), (x, y)
' $T/wg/log.tsv $T/wc/log.tsv
	check "a device run's checkpoint resumes on the CPU" \
		$BIN/qtrain --resume $T/wg --steps 6 --checkpoint-every 2 --threads 1 -q -o $T/wg $T/codes.npy
fi
# Which toolkit the Makefile builds against: the one nvcc reports, even where the nvcc on PATH
# is a wrapper script elsewhere (CI's /usr/local/bin/nvcc); a toolkit without cudart builds
# without CUDA, with a warning. A stand-in nvcc answers --dryrun as the real one does.
mkdir -p $T/tk/bin $T/tk/lib $T/wrap
printf '#!/bin/sh\necho "#\\$ TOP=%s/tk/bin/.."\n' "$T" >$T/tk/bin/nvcc
printf '#!/bin/sh\nexec %s/tk/bin/nvcc "$@"\n' "$T" >$T/wrap/nvcc
chmod +x $T/tk/bin/nvcc $T/wrap/nvcc
: >$T/tk/lib/libcudart_static.a
make_vars() { env -u CUDA -u CUDA_HOME -u CUDA_LIBDIR make --no-print-directory -n -p "$@" Makefile 2>&1; }
make_vars NVCC=$T/wrap/nvcc >$T/vars
check "make: the toolkit is where the nvcc wrapper leads" grep -qx "CUDA_LIBDIR := $(realpath $T/tk)/lib" $T/vars
check "make: CUDA is built with it" grep -qx "CUDA := 1" $T/vars
rm $T/tk/lib/libcudart_static.a
make_vars NVCC=$T/wrap/nvcc >$T/vars
check "make: a toolkit without libcudart_static.a: a warning naming it" \
	grep -qF "nvcc is $T/wrap/nvcc, but its toolkit ($(realpath $T/tk)) has no libcudart_static.a: building without CUDA" $T/vars
check "make: ... and nothing CUDA built" grep -qx "CUDA := 0" $T/vars
make_vars NVCC=$T/wrap/nvcc CUDA=1 >$T/vars
check "make CUDA=1 with such a toolkit: stops, naming it" grep -qF "CUDA=1, but no libcudart_static.a in the toolkit of $T/wrap/nvcc" $T/vars
done_testing
