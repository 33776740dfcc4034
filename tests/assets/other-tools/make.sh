#!/bin/sh
# Image archives written by the real tools, from a tiny busybox-style root filesystem
# (a shell-script stand-in for busybox and its applet symlinks: a few KB in all).
#
#   umoci 0.4.7 (Debian 12): builds the image layer by layer into an OCI layout (gzip
#     layers, Go's archive/tar), with a whiteout layer and an opaque-directory layer;
#   skopeo 1.9.3 (Debian 12): copies that image to a docker-archive, an oci-archive, an
#     OCI layout with zstd layers, and its own `dir:` format (OCI and Docker v2s2 manifests);
#   buildah 1.28.2 (Debian 12): builds a Containerfile of COPY steps (one overwrites a file
#     an earlier one shipped: no RUN, so no runtime is needed) with a private vfs store, and
#     pushes it to a docker-archive and an oci-archive.
#
# Run from this directory: `sh make.sh` (as root; apt-get install umoci skopeo buildah).
# The archives are committed; tests/functional/test_other_tools_real.py audits each one
# and checks the byte figures against an independent count (tests/support/independent.py).
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000

root="$work/rootfs"
mkdir -p "$root/bin" "$root/etc" "$root/tmp"
printf '#!/bin/sh\n# stand-in for busybox: the applets below link here\necho "$0 $*"\n' > "$root/bin/busybox"
head -c 3000 /dev/zero | tr '\0' 'b' >> "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
for applet in sh ls cat rm; do ln -s busybox "$root/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'NAME=tiny\nID=tiny\n' > "$root/etc/os-release"
ln "$root/etc/passwd" "$root/etc/passwd.hardlink"

app="$work/app"
mkdir -p "$app"
head -c 2500 /dev/zero | tr '\0' 'a' > "$app/main.py"
cache="$work/cache.bin"
head -c 4000 /dev/zero | tr '\0' 'c' > "$cache"
etc="$work/etc-replaced"
mkdir -p "$etc"
printf 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' > "$etc/passwd"

layout="$work/umoci"
rm -rf "$here/umoci-layout"
umoci init --layout "$layout"
umoci new --image "$layout:1"
umoci insert --image "$layout:1" "$root" /
umoci insert --image "$layout:1" "$app" /app
umoci insert --image "$layout:1" "$cache" /tmp/cache.bin
umoci insert --image "$layout:1" --whiteout /tmp/cache.bin
umoci insert --image "$layout:1" --opaque "$etc" /etc
umoci config --image "$layout:1" --config.cmd /bin/sh
umoci gc --layout "$layout"
cp -r "$layout" "$here/umoci-layout"

rm -rf "$here/skopeo-docker-archive.tar" "$here/skopeo-oci-archive.tar" "$here/skopeo-oci-zstd" "$here/skopeo-dir"
skopeo --insecure-policy copy "oci:$layout:1" "docker-archive:$here/skopeo-docker-archive.tar:tiny/app:1"
skopeo --insecure-policy copy "oci:$layout:1" "oci-archive:$here/skopeo-oci-archive.tar:tiny/app:1"
skopeo --insecure-policy copy --dest-compress-format zstd --dest-compress "oci:$layout:1" "oci:$here/skopeo-oci-zstd:1"
skopeo --insecure-policy copy "oci:$layout:1" "dir:$here/skopeo-dir"
rm -rf "$here/skopeo-dir-v2s2"
skopeo --insecure-policy copy --format v2s2 "oci:$layout:1" "dir:$here/skopeo-dir-v2s2"

ctx="$work/context"
mkdir -p "$ctx/app"
cp -r "$root" "$ctx/rootfs"
head -c 3000 /dev/zero | tr '\0' 'v' > "$ctx/app/v1.txt"
head -c 1200 /dev/zero | tr '\0' 'w' > "$ctx/app/v2.txt"
printf 'FROM scratch\nCOPY rootfs/ /\nCOPY app/v1.txt /app/data.txt\nCOPY app/v2.txt /app/data.txt\nCMD ["/bin/sh"]\n' \
    > "$ctx/Containerfile"
buildah="buildah --root $work/buildah-root --runroot $work/buildah-run --storage-driver vfs"
$buildah bud --isolation chroot --layers -f "$ctx/Containerfile" -t tiny/buildah:1 "$ctx"
rm -f "$here/buildah-docker-archive.tar" "$here/buildah-oci-archive.tar"
$buildah push tiny/buildah:1 "docker-archive:$here/buildah-docker-archive.tar:tiny/buildah:1"
$buildah push tiny/buildah:1 "oci-archive:$here/buildah-oci-archive.tar:tiny/buildah:1"
