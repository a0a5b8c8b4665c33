#!/bin/bash
# tests/numa/vm.sh — runs a script inside an emulated NUMA machine and returns
# its exit status (docs/design.md, "Testing NUMA").
#
#   tests/numa/vm.sh GUEST_SCRIPT [FILE...]      (from the repository root)
#
# The machine: QEMU with TCG (no KVM), Debian's cloud kernel, three NUMA
# nodes: node 0 with CPU 0, node 1 with CPU 1, node 2 with memory and no
# CPU (like CXL memory); automatic NUMA balancing off, THP on madvise.  Its
# root file system is an initramfs holding busybox, build/numa-vm/qexit, the
# repository's FILEs at /strata/<path> (the same relative paths, so rpaths
# such as $ORIGIN/../../lib still resolve), FILEs given by absolute path at
# that path (peers' libraries for LD_PRELOAD), and every library `ldd` names
# for them.  GUEST_SCRIPT runs as root with /strata as its working folder;
# /tmp is a tmpfs.
#
# Prints the guest script's output; on failure the whole console.  Exits with
# the guest script's status (clamped to 100), or 124 on timeout, or 125 when
# QEMU could not run or the guest gave no status: never a silent pass.
#
# Environment: NUMA_VM_DIR (build/numa-vm: the cached kernel, qexit, the
# initramfs and console.log), NUMA_VM_TIMEOUT (seconds, 180: make
# check-numa's boot takes 20-40 s on the 2-CPU build machine, more while
# other jobs share it), NUMA_VM_MEM (MiB of each CPU node, 384; the
# memory-only node has 128, small enough for a test to fill it quickly).
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 GUEST_SCRIPT [FILE...]" >&2
	exit 2
fi
script=$1
shift
dir=${NUMA_VM_DIR:-build/numa-vm}
timeout_s=${NUMA_VM_TIMEOUT:-180}
mem=${NUMA_VM_MEM:-384}
mem2=128
log=$dir/console.log
mkdir -p "$dir"

fail() {
	echo "numa-vm: $*" >&2
	exit 125
}

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
command -v cpio >/dev/null || fail "cpio not found"
[ -x /bin/busybox ] || fail "/bin/busybox not found (apt-get install busybox-static)"
[ -x "$dir/qexit" ] || fail "$dir/qexit not built (make $dir/qexit)"

# The kernel: Debian's cloud kernel (LZ4-compressed, so it unpacks in a
# fraction of the time the generic XZ one takes under TCG), downloaded once
# and kept in $dir.  The package name is spelled out: apt-get download
# reads a pattern as a regular expression.
if [ ! -s "$dir/vmlinuz" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || fail "no linux-image-cloud-amd64 in apt's lists (apt-get update?)"
	rm -rf "$dir/kernel"
	mkdir -p "$dir/kernel"
	echo "numa-vm: downloading $pkg (once)"
	# (apt warns that root downloads unsandboxed: shown only on failure)
	(cd "$dir/kernel" && apt-get download -q "$pkg" >apt.log 2>&1) ||
		{ cat "$dir/kernel/apt.log" >&2; fail "apt-get download $pkg failed"; }
	dpkg-deb -x "$dir/kernel/${pkg}"_*.deb "$dir/kernel/x"
	cp "$dir"/kernel/x/boot/vmlinuz-* "$dir/vmlinuz.part"
	mv "$dir/vmlinuz.part" "$dir/vmlinuz"
	rm -rf "$dir/kernel"
fi

# The initramfs.
root=$(mktemp -d "$dir/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/strata"
cp /bin/busybox "$dir/qexit" "$root/bin/"
ln -s busybox "$root/bin/sh"

# copy_at SOURCE DEST: a file (links followed) to DEST inside the root.
copy_at() {
	mkdir -p "$root$(dirname "$2")"
	cp -L "$1" "$root$2"
}
for f in "$script" "$@"; do
	[ -e "$f" ] || fail "$f: no such file"
	case $f in
		/*) copy_at "$f" "$f" ;;
		*) copy_at "$f" "/strata/$f" ;;
	esac
	# ldd prints "name => /path (addr)" and "/lib64/ld-linux... (addr)".
	if ldd "$f" >/dev/null 2>&1; then
		for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
			# The repository's own libraries come as FILEs, under /strata.
			case $lib in "$PWD"/*) continue ;; esac
			[ -e "$root$lib" ] || copy_at "$lib" "$lib"
		done
	fi
done

case $script in
	/*) guest_script=$script ;;
	*) guest_script=/strata/$script ;;
esac
cat >"$root/init" <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console (making one needs root), so the kernel
# started init with no output: the console comes from devtmpfs.
exec </dev/console >/dev/console 2>&1
mount -t tmpfs tmpfs /tmp
cd /strata
echo "numa-vm: guest script starts"
sh $guest_script
rc=\$?
echo "numa-vm: guest script exit status \$rc"
[ \$rc -le 100 ] || rc=100
# QEMU exits with 2 * value + 1: value rc + 1 keeps status 0 apart from
# QEMU's own failure (1).
qexit \$((rc + 1))
poweroff -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.gz"

# Boot.  Node memory comes from memory-backend-ram objects (QEMU 7.2 refuses
# -numa node,mem= on this machine type).
numa=""
for node in 0 1; do
	numa="$numa -object memory-backend-ram,id=m$node,size=${mem}M"
	numa="$numa -numa node,nodeid=$node,memdev=m$node,cpus=$node"
done
numa="$numa -object memory-backend-ram,id=m2,size=${mem2}M -numa node,nodeid=2,memdev=m2"
start=$(date +%s)
set +e
# shellcheck disable=SC2086  # $numa is a list of arguments
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m $((2 * mem + mem2))M $numa \
	-numa dist,src=0,dst=1,val=21 -numa dist,src=0,dst=2,val=30 -numa dist,src=1,dst=2,val=30 \
	-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$dir/vmlinuz" -initrd "$dir/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 numa_balancing=disable transparent_hugepage=madvise" \
	</dev/null >"$log" 2>&1
qrc=$?
set -e
elapsed=$(($(date +%s) - start))

show_console() {
	echo "numa-vm: ---- console ($log) ----"
	cat "$log"
	echo "numa-vm: ---- end of console ----"
}
if [ $qrc -eq 124 ]; then
	show_console
	echo "numa-vm: TIMEOUT after ${timeout_s} s" >&2
	exit 124
fi
if [ $qrc -lt 3 ] || [ $((qrc % 2)) -eq 0 ]; then
	show_console
	fail "QEMU exited with $qrc and no status from the guest (QEMU failed to start, or the guest panicked)"
fi
rc=$(((qrc - 3) / 2))
# A QEMU killed by a signal also exits odd: the console must agree.
grep -q "numa-vm: guest script exit status" "$log" || {
	show_console
	fail "QEMU exited with $qrc but the guest printed no exit status"
}
if [ $rc -ne 0 ]; then
	show_console
	echo "numa-vm: guest script failed with status $rc (${elapsed} s)" >&2
	exit $rc
fi
# (the first line follows the BIOS's terminal escapes)
sed -n 's/.*\(numa-vm: guest script starts\)/\1/; /numa-vm: guest script starts/,$p' "$log" |
	tr -d '\r'
echo "numa-vm: passed in ${elapsed} s"
