# Sourced by the debootstrap recipes (tests/vm/build-image.sh,
# tests/newnix/build-root.sh); part of each one's cache key.

# The mirror this machine's apt already uses (deb822 or one-line sources).
apt_mirror() {
	local mirror
	mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
		| grep -v security | head -n1 | tr -d ' ' || true)
	echo "${mirror:-http://deb.debian.org/debian}"
}

# debootstrap can leave /proc (or more) mounted inside the tree under $work;
# never let rm -rf walk into a mounted filesystem.
unmount_tree() {
	{ grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m"; done
	if grep -q " $work/" /proc/mounts; then
		echo "still mounted under $work; not deleting it" >&2
		return 1
	fi
}
