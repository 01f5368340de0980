#!/bin/sh
# ddsp-harmonic: synth against the numpy transcription of DDSP (tests/fixtures/ddsp_reference.py)
# through the program (safetensors in, tensor stream out), analyze/synth round trips, resynth,
# compare, f0 against aubio's yinfft, and bad inputs.
. tests/lib.sh
D="$BIN/ddsp-harmonic"
REF="$ROOT/tests/fixtures/ddsp_reference.py"

check "--help prints usage, exit 0" sh -c "'$D' --help | grep -q 'ddsp-harmonic synth'"
fails_with "no subcommand: usage error" 2 "no subcommand" "$D"
fails_with "unknown subcommand: usage error" 2 "unknown subcommand 'synthesize'" "$D" synthesize x

# --- synth against numpy DDSP, float32 precision ---
$PY "$REF" controls "$T/c.safetensors" 3
$PY "$REF" synth "$T/c.safetensors" "$T/ref.npy" 77
check "synth runs" "$D" synth --seed 77 -o "$T/got.npy" "$T/c.safetensors"
check "synth = numpy DDSP harmonic + filtered noise (float32 precision)" \
	$PY "$REF" close "$T/got.npy" "$T/ref.npy" 5e-7
$PY "$REF" controls "$T/cl.safetensors" 4 --logits --amp2d
$PY "$REF" synth "$T/cl.safetensors" "$T/refl.npy" 9 --logits
check "--logits (exp_sigmoid, noise bias -5), amplitude of shape (F,1): = numpy DDSP" \
	sh -c "'$D' synth --logits --seed 9 -o '$T/gotl.npy' '$T/cl.safetensors' && $PY '$REF' close '$T/gotl.npy' '$T/refl.npy' 5e-7"
"$D" synth --seed 77 -o "$T/again.npy" "$T/c.safetensors" 2>/dev/null
check "same controls and seed: same bytes" cmp "$T/got.npy" "$T/again.npy"
"$D" synth --seed 78 -o "$T/other.npy" "$T/c.safetensors" 2>/dev/null
check "another seed: other noise" sh -c "! cmp -s '$T/got.npy' '$T/other.npy'"
check "synth to a .wav file" sh -c "'$D' synth -o '$T/c.wav' '$T/c.safetensors' && test -s '$T/c.wav'"
check "synth to stdout (pipe): the same bytes" sh -c "'$D' synth --seed 77 '$T/c.safetensors' | cmp - '$T/again.npy'"

# --- analyze / synth / resynth / compare on a harmonic tone ---
$PY "$REF" tone "$T/a220.wav" 220 220 0.01 0.01 2
$PY "$REF" tone "$T/a330.wav" 330 330 0.01 0.01 2
check "analyze a tone" "$D" analyze -k 40 -o "$T/a220.safetensors" "$T/a220.wav"
check "analyze writes f0_hz amplitude harmonics noise loudness_db voiced f0_confidence" sh -c "
	for t in f0_hz amplitude harmonics noise loudness_db voiced f0_confidence; do
		$PY '$REF' get '$T/a220.safetensors' \$t > /dev/null || exit 1; done"
n=$($PY "$REF" get "$T/a220.safetensors" f0_hz | wc -l)
ok $([ "$n" -eq 500 ] && echo 0 || echo 1) "2 s at hop 64: 500 frames ($n)"
med=$($PY "$REF" get "$T/a220.safetensors" f0_hz | sort -g | sed -n 250p)
ok $(awk -v m="$med" 'BEGIN { exit !(m > 218.9 && m < 221.1) }'; echo $?) "median f0 of a 220 Hz tone: $med"
"$D" synth -o "$T/re220.wav" "$T/a220.safetensors" 2>/dev/null
l_same=$("$D" compare "$T/a220.wav" "$T/re220.wav" 2>/dev/null)
l_other=$("$D" compare "$T/a220.wav" "$T/a330.wav" 2>/dev/null)
ok $(awk -v a="$l_same" -v b="$l_other" 'BEGIN { exit !(a > 0 && a < 0.4 * b) }'; echo $?) \
	"analyze+synth: loss against the original $l_same, much less than against a 330 Hz tone $l_other"
l_self=$("$D" compare "$T/a220.wav" "$T/a220.wav" 2>/dev/null)
ok $([ "$l_self" = "0.000000" ] && echo 0 || echo 1) "compare A A = 0 ($l_self)"
check "resynth" "$D" resynth -o "$T/rs.wav" "$T/a220.wav"
l_rs=$("$D" compare "$T/a220.wav" "$T/rs.wav" 2>/dev/null)
ok $(awk -v a="$l_rs" -v b="$l_other" 'BEGIN { exit !(a < 0.4 * b) }'; echo $?) "resynth loss $l_rs"
"$D" resynth --pitch 12 -o "$T/up.wav" "$T/a220.wav" 2>/dev/null
"$D" analyze -o "$T/up.safetensors" "$T/up.wav" 2>/dev/null
med=$($PY "$REF" get "$T/up.safetensors" f0_hz | sort -g | sed -n 250p)
ok $(awk -v m="$med" 'BEGIN { exit !(m > 435 && m < 445) }'; echo $?) "resynth --pitch 12: f0 $med (440)"
# timbre transfer: the 220 Hz tone with a pure-sine harmonic profile becomes (nearly) a sine
# (a float tensor stream: the total amplitude, about 1.2, would clip in a 16-bit wav)
$PY - "$T/sine.wav" <<'EOF'
import sys, wave, numpy as np
n = 32000; y = 0.5 * np.sin(2 * np.pi * 500 * np.arange(n) / 16000)
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(np.round(y * 32767).astype("<i2").tobytes()); w.close()
EOF
check "resynth --harmonics FILE (timbre transfer)" "$D" resynth -k 40 --harmonics "$T/sine.wav" -o "$T/tt.npy" "$T/a220.wav"
"$D" analyze -k 40 -o "$T/tt.safetensors" "$T/tt.npy" 2>/dev/null
h=$($PY "$REF" get "$T/tt.safetensors" harmonics | sed -n 250p | awk '{ print $1 }')
ok $(awk -v h="$h" 'BEGIN { exit !(h > 0.9) }'; echo $?) "after transfer of a sine's profile the first harmonic holds $h of the amplitude"
"$D" analyze -k 40 -o "$T/sine.safetensors" "$T/sine.wav" 2>/dev/null
check "--harmonics from a controls file" "$D" resynth -k 40 --harmonics "$T/sine.safetensors" -o "$T/tt2.npy" "$T/a220.wav"
check "analyze reads a tensor stream from stdin" sh -c "'$D' synth --seed 1 '$T/a220.safetensors' | '$D' analyze -k 40 -o '$T/pipe.safetensors' && test -s '$T/pipe.safetensors'"

# --- f0 against aubio's yinfft on voiced frames ---
# aubiopitch -B 1024 -H 64 labels a frame 320 samples (B/2 - 3H) after the centre of the audio
# it describes (measured: the best alignment of both tracks); we compare at that offset.
aubio_agrees() { # FILE LABEL
	"$D" analyze -o "$T/au.safetensors" "$1" 2>/dev/null &&
	aubiopitch -i "$1" -r 16000 -B 1024 -H 64 -p yinfft -s -50 -T samples > "$T/aubio.txt" &&
	$PY - "$REF" "$T/au.safetensors" "$T/aubio.txt" "$2" <<'EOF'
import sys, importlib.util, numpy as np
spec = importlib.util.spec_from_file_location("ref", sys.argv[1]); ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
c, _ = ref.load_safetensors(sys.argv[2])
a = np.loadtxt(sys.argv[3]).reshape(-1, 2)
t = np.arange(len(c["f0_hz"])) * 64.0
af = np.interp(t + 320, a[:, 0], a[:, 1])
m = (c["voiced"] > 0) & (af > 0)
cents = 1200 * np.abs(np.log2(c["f0_hz"][m] / af[m]))
good = np.mean(cents < 50)
print("# %s: %d frames voiced in both, median %.1f cents apart, %.1f%% within 50 cents"
      % (sys.argv[4], m.sum(), np.median(cents), 100 * good))
sys.exit(0 if m.sum() > 0.3 * len(t) and np.median(cents) < 20 and good > 0.85 else 1)
EOF
}
if command -v aubiopitch > /dev/null; then
	$PY "$REF" tone "$T/glide.wav" 110 440 0.03 0.03 3
	aubio_agrees "$T/glide.wav" "glide 110-440 Hz with vibrato and noise" > "$T/au.out" 2>&1
	ok $? "f0 agrees with aubio yinfft on a vibrato glide in noise"; cat "$T/au.out"
	if command -v espeak-ng > /dev/null; then
		espeak-ng -w "$T/voice.wav" -s 120 "The quick brown fox jumps over the lazy dog, and sings a long note." 2>/dev/null
		aubio_agrees "$T/voice.wav" "espeak-ng voice" > "$T/au.out" 2>&1
		ok $? "f0 agrees with aubio yinfft on an espeak-ng voice"; cat "$T/au.out"
	else
		skip "espeak-ng not installed (apt-get install espeak-ng)"
	fi
else
	skip "aubiopitch not installed (apt-get install aubio-tools)"
	skip "aubiopitch not installed (apt-get install aubio-tools)"
fi

# --- bad inputs: clear message naming the file, exit 1, no output ---
$PY - "$T" <<'EOF'
import sys, importlib.util, numpy as np
spec = importlib.util.spec_from_file_location("ref", "tests/fixtures/ddsp_reference.py")
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
T = sys.argv[1]; F, K = 10, 4
good = {"f0_hz": np.full(F, 100.0), "amplitude": np.ones(F), "harmonics": np.ones((F, K))}
def w(name, **ch):
    t = dict(good); t.update(ch); t = {k: v for k, v in t.items() if v is not None}
    ref.save_safetensors(T + "/" + name, t, {})
w("nof0.safetensors", f0_hz=None)
w("noharm.safetensors", harmonics=None)
w("mismatch.safetensors", amplitude=np.ones(F + 1))
w("negf0.safetensors", f0_hz=np.array([100.0] * 5 + [-3.0] + [100.0] * 4))
w("nan.safetensors", harmonics=np.where(np.arange(F * K).reshape(F, K) == 13, np.nan, 1.0))
w("noise2.safetensors", noise=np.ones((F, 2)))
EOF
printf 'not a safetensors file at all' > "$T/junk.safetensors"
bad() { # DESCRIPTION PATTERN FILE
	fails_with "$1" 1 "$2" "$D" synth -o "$T/out.wav" "$T/$3"
	ok $([ ! -e "$T/out.wav" ] && echo 0 || echo 1) "$1: no output left behind"
}
bad "missing f0_hz" "nof0.safetensors: no tensor 'f0_hz'" nof0.safetensors
bad "missing harmonics" "noharm.safetensors: no tensor 'harmonics'" noharm.safetensors
bad "mismatched frame counts" "mismatch.safetensors: amplitude has 11 frames but f0_hz has 10" mismatch.safetensors
bad "negative f0" "negf0.safetensors: f0_hz: frame 5 holds a negative value" negf0.safetensors
bad "NaN in harmonics" "nan.safetensors: tensor 'harmonics' holds NaN at index 13" nan.safetensors
bad "noise with 2 bands" "noise2.safetensors: noise: 2 bands" noise2.safetensors
bad "not a safetensors file" "junk.safetensors: " junk.safetensors
bad "unreadable file" "missing.safetensors: " missing.safetensors
$PY "$REF" controls "$T/ok.safetensors" 3
set_meta "$T/ok.safetensors" "$T/hop.safetensors" hop 9999999
bad "a hop of 9,999,999 in the metadata (memory grew without end)" "hop.safetensors: bad 'hop' in the metadata: '9999999' \(want a whole number in 1..65536\)" hop.safetensors
set_meta "$T/ok.safetensors" "$T/rate.safetensors" sample_rate 1073741824
bad "a sample rate of 2^30 in the metadata" "rate.safetensors: bad 'sample_rate' in the metadata" rate.safetensors
set_meta "$T/ok.safetensors" "$T/hopx.safetensors" hop 64x
bad "a hop that is no number is refused, not defaulted" "hopx.safetensors: bad 'hop' in the metadata: '64x'" hopx.safetensors
dup_meta "$T/ok.safetensors" "$T/dup.safetensors"
bad "two __metadata__ objects (was a heap overflow)" "dup.safetensors: .*\"__metadata__\" appears twice" dup.safetensors
fails_with "analyze: unreadable audio file" 1 "nope.wav: " "$D" analyze -o "$T/x.safetensors" "$T/nope.wav"
ok $([ ! -e "$T/x.safetensors" ] && echo 0 || echo 1) "analyze: no output left behind"
$PY -c "import numpy as np; np.save('$T/nan.npy', np.array([0, np.nan, 0], dtype=np.float32))"
fails_with "analyze: NaN sample" 1 "nan.npy: sample 1 \(at 0\.000 s\) is NaN" "$D" analyze -o "$T/x.safetensors" "$T/nan.npy"
$PY -c "
import numpy as np
d = \"{'descr': '<f4', 'fortran_order': False, 'shape': (4000,), } # rate=22050\"
h = d + ' ' * (127 - 10 - len(d)) + '\\n'
open('$T/r22.npy', 'wb').write(b'\\x93NUMPY\\x01\\x00' + len(h).to_bytes(2, 'little') + h.encode() + np.zeros(4000, '<f4').tobytes())"
fails_with "analyze: a stream at another rate than -r is refused" 1 "r22.npy: record 0: the stream is at 22050 Hz, not at 16000 Hz \(give -r 22050\)" \
	"$D" analyze -o "$T/x.safetensors" "$T/r22.npy"
check "synth writes its rate into the stream header" sh -c "'$D' synth -r 22050 '$T/c.safetensors' | head -c 128 | grep -q 'rate=22050'"
fails_with "compare needs two inputs" 2 "compare takes 2 inputs" "$D" compare "$T/a220.wav"
fails_with "bad f0 range" 2 "f0 range" "$D" analyze --fmax 9000 -o "$T/x.safetensors" "$T/a220.wav"
# --- the options every program answers
std_options ddsp-harmonic synth --hop
done_testing
