#!/bin/sh
# Layer tars that GNU tar writes and Python's tarfile cannot: sparse files in the
# formats GNU tar knows (old GNU 'S' headers, with and without extension blocks; pax 0.0, 0.1
# and 1.0). Each is gzipped (mostly zeros: a few hundred bytes). Run from this directory;
# GNU tar 1.34 made the committed ones.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
    cd "$work"
    truncate -s 10M sparse.bin
    printf 'hello' | dd of=sparse.bin bs=1 seek=5000000 conv=notrunc 2>/dev/null
    truncate -s 20M many.bin  # 12 data runs: the old GNU map needs extension blocks
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        printf 'data%02d' "$i" | dd of=many.bin bs=1 seek=$((i * 1500000)) conv=notrunc 2>/dev/null
    done
    echo after > after.txt
)
common="--sparse --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C $work"
tar $common --format=gnu -cf - sparse.bin after.txt | gzip -9n > sparse-gnu.tar.gz
tar $common --format=gnu -cf - many.bin after.txt | gzip -9n > sparse-gnu-extended.tar.gz
tar $common --format=posix --sparse-version=0.0 -cf - sparse.bin after.txt | gzip -9n > sparse-pax-0.0.tar.gz
tar $common --format=posix --sparse-version=0.1 -cf - sparse.bin after.txt | gzip -9n > sparse-pax-0.1.tar.gz
tar $common --format=posix --sparse-version=1.0 -cf - sparse.bin after.txt | gzip -9n > sparse-pax-1.0.tar.gz
