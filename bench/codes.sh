# bench/codes.sh, sourced by the benches: random_codes_npy RECORDS LENGTH writes a tensor stream
# of RECORDS |u1 records of LENGTH random codes on stdout, the .npy headers written by hand so
# that a bench needs no numpy.
npy_u1() { # npy_u1 N: one |u1 record of N random codes on stdout
	dict="{'descr': '|u1', 'fortran_order': False, 'shape': ($1,), }"
	len=${#dict}
	pad=$(( (64 - (10 + len + 1) % 64) % 64 ))
	hlen=$((len + pad + 1))
	printf '\223NUMPY\001\000'
	printf "$(printf '\\%03o\\%03o' $((hlen % 256)) $((hlen / 256)))"
	printf '%s%*s\n' "$dict" $pad ''
	head -c "$1" /dev/urandom
}
random_codes_npy() {
	_i=0
	while [ $_i -lt "$1" ]; do npy_u1 "$2"; _i=$((_i + 1)); done
}
