#!/bin/sh
# tests/npy_interop.t: tensor streams between our programs and numpy, both ways: numpy loads
# what we write, record by record (<f4, |u1, <u2, any rank), and we read what numpy.save
# writes, one record or many back to back, in every dtype we accept and .npy versions 1.0 and
# 2.0; numpy arrays we cannot take (Fortran order, big-endian) are refused by name.
. tests/lib.sh

# numpy writes a multi-record stream: float32 and float64 audio of ranks 0-3
$PY -c "
import numpy as np
r = np.random.default_rng(1)
recs = [r.uniform(-1, 1, 1000).astype('<f4'), r.uniform(-1, 1, (4, 5)).astype('<f8'),
        np.float32(-0.5), r.uniform(-1, 1, (2, 3, 4)).astype('<f4'), np.zeros(0, '<f4')]
with open('$T/audio.npy', 'wb') as f:
    for a in recs:
        np.save(f, a)
np.save('$T/expect.npy', np.concatenate([np.ravel(a).astype(np.float64) for a in recs]))
"
"$BIN/mulaw" "$T/audio.npy" -o "$T/codes.npy" 2>/dev/null
check "we read a 5-record numpy.save stream (<f4, <f8, ranks 0-3, empty) and numpy reads our 5 records" $PY -c "
import numpy as np
f = open('$T/codes.npy', 'rb')
shapes = []
while f.peek(1):
    a = np.load(f); assert a.dtype == np.uint8; shapes.append(a.shape)
assert shapes == [(1000,), (4, 5), (), (2, 3, 4), (0,)], shapes
"
"$BIN/mulaw" -l 1000 "$T/audio.npy" 2>/dev/null | "$BIN/mulaw" -d -l 1000 -o "$T/back.npy" 2>/dev/null
check "numpy reads our <u2 and <f4 records; the values come back within a step" $PY -c "
import numpy as np
f = open('$T/back.npy', 'rb')
vals = []
while f.peek(1):
    a = np.load(f); assert a.dtype == np.dtype('<f4'); vals.append(np.ravel(a))
x, want = np.concatenate(vals), np.load('$T/expect.npy')
assert x.shape == want.shape and np.abs(x - want).max() < 0.02, np.abs(x - want).max()
"

# numpy writes codes in every integer dtype we decode; version 2.0 headers too
$PY -c "
import numpy as np
with open('$T/codes_in.npy', 'wb') as f:
    np.save(f, np.arange(256, dtype='|u1'))
    np.save(f, np.arange(256, dtype='<u2').reshape(16, 16))
    np.save(f, np.arange(256, dtype='<i2'))
    np.lib.format.write_array(f, np.arange(256, dtype='<u1'), version=(2, 0))
    np.save(f, np.arange(256, dtype='<i8'))
"
"$BIN/mulaw" -d "$T/codes_in.npy" -o "$T/dec.npy" 2>/dev/null
check "we read |u1, <u2, <i2, <i8 and a version 2.0 header; numpy reads the 5 decoded records" $PY -c "
import numpy as np
f = open('$T/dec.npy', 'rb')
recs = []
while f.peek(1):
    recs.append(np.load(f))
assert len(recs) == 5 and recs[1].shape == (16, 16)
for r in recs[1:]:
    assert (np.ravel(r) == recs[0]).all()
assert recs[0][0] == -1 and recs[0][255] == 1
"

# wavchunk writes a stream numpy reads record by record (input at 16 kHz: no resampling, so
# the records are exactly the input's slices)
$PY -c "
import numpy as np, wave
x = (np.random.default_rng(3).uniform(-0.5, 0.5, 22 * 16000) * 32768).astype('<i2')
w = wave.open('$T/noise.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(x.tobytes()); w.close()
np.save('$T/noise_src.npy', x)"
"$BIN/wavchunk" -l 2 -p 0.5 "$T/noise.wav" -o "$T/chunks.npy" 2>/dev/null
check "numpy reads wavchunk's stream: 14 records (32000,) <f4 that are the input's slices" $PY -c "
import numpy as np
src = np.load('$T/noise_src.npy') / np.float32(32768)
f = open('$T/chunks.npy', 'rb')
n = 0
while f.peek(1):
    a = np.load(f)
    assert a.dtype == np.dtype('<f4') and a.shape == (32000,)
    assert (a == src[n * 24000: n * 24000 + 32000].astype(np.float32)).all(), n
    n += 1
assert n == 14, n
"

# the rate travels in a comment after the header dict: numpy (Debian's) still loads every record,
# and numpy.lib.format parses such a header as the dict alone
"$BIN/wavchunk" -r 22050 -l 2 -p 0.5 "$T/noise.wav" -o "$T/chunks22.npy" 2>/dev/null
"$BIN/mulaw" "$T/chunks22.npy" -o "$T/codes22.npy" 2>/dev/null
"$BIN/mulaw" -d "$T/codes22.npy" -o "$T/dec22.npy" 2>/dev/null
check "numpy.load reads streams that carry a rate (wavchunk -r 22050, mulaw, mulaw -d)" $PY -c "
import numpy as np
for name, dt in (('chunks22', '<f4'), ('codes22', '|u1'), ('dec22', '<f4')):
    f = open('$T/' + name + '.npy', 'rb')
    head = f.read(128); f.seek(0)
    assert b'} # rate=22050 ' in head and head.endswith(b'\\n') and len(head) == 128, (name, head)
    n = 0
    while f.peek(1):
        v = np.lib.format.read_magic(f)
        h = np.lib.format._read_array_header(f, v)
        assert h == ((44100,), False, np.dtype(dt)), (name, h)
        f.seek(-128, 1)
        a = np.load(f)
        assert a.dtype == np.dtype(dt) and a.shape == (44100,), (name, a.shape)
        n += 1
    assert n == 14, (name, n)
"
# ... and we read the rate from a header Python wrote with the comment
$PY -c "
import numpy as np
d = \"{'descr': '<f4', 'fortran_order': False, 'shape': (32000,), } # rate=32000\"
h = d + ' ' * (127 - 10 - len(d)) + '\\n'
with open('$T/py32k.npy', 'wb') as f:
    f.write(b'\\x93NUMPY\\x01\\x00' + len(h).to_bytes(2, 'little') + h.encode())
    f.write(np.zeros(32000, '<f4').tobytes())
assert np.load('$T/py32k.npy').shape == (32000,)
"
fails_with "a stream whose header says 32000 Hz is refused by mulaw -r 16000" 1 "py32k.npy: record 0: the stream is at 32000 Hz, -r says 16000" \
	"$BIN/mulaw" -r 16000 "$T/py32k.npy" -o "$T/o0.npy"

# numpy arrays we do not take are refused with the reason
$PY -c "
import numpy as np
with open('$T/fortran.npy', 'wb') as f:
    np.save(f, np.zeros(3, '<f4'))
    np.save(f, np.asfortranarray(np.zeros((3, 2), '<f4')))
np.save('$T/big_endian.npy', np.zeros(3, '>f4'))
np.save('$T/complex.npy', np.zeros(3, np.complex64))
"
fails_with "a Fortran-order numpy array is refused naming its record" 1 "fortran.npy: record 1: fortran_order: True" \
	"$BIN/mulaw" "$T/fortran.npy" -o "$T/o1.npy"
ok "$([ ! -e "$T/o1.npy" ]; echo $?)" "... with no output file"
fails_with "a big-endian numpy array is refused" 1 "unsupported dtype '>f4'" "$BIN/mulaw" "$T/big_endian.npy" -o "$T/o2.npy"
fails_with "a complex numpy array is refused" 1 "unsupported dtype '<c8'" "$BIN/mulaw" "$T/complex.npy" -o "$T/o3.npy"
done_testing
