#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The VM tier: boots each kernel in tests/vm/kernels under qemu (TCG) with an initramfs holding
# busybox, build/vigil, every build/tests/vm_* binary, tests/vm/*.vmsh, <cap>/tests/vm_*.vmsh and
# the kernel modules in tests/vm/modules, and reports the tests' PASS/FAIL/SKIP lines with the
# kernel appended:
#   PASS vm_lsm_read/test_target_read_denied [6.1.0-56-cloud-amd64]
# tests/run's "vm" tier runs this script; it can also run alone (after `make`):
#   tests/vm/vm.sh                          every kernel, every test
#   VM_KERNELS=linux-image-6.1.0-56-cloud-amd64 VM_FILTER=lsm tests/vm/vm.sh
# Kernel packages are cached in .cache/vm/<package>/ (fetched once with apt-get download); images
# and console logs go to build/vm/. See docs/testing.md.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
B=${VIGIL_BUILD:-$root/build}
cache=$root/.cache/vm
out=$B/vm
VM_TIMEOUT=${VM_TIMEOUT:-300}	# seconds per boot, tests included
VM_FILTER=${VM_FILTER:-}	# run only VM tests whose name contains this
VM_APPEND=${VM_APPEND:-}	# extra kernel parameters
VM_SHELL=${VM_SHELL:-}		# 1: boot the first kernel with a shell on this terminal after the tests
MARKER=VIGIL-VM-DONE

log() { echo "vm.sh: $*" >&2; }
skip_all() { echo "SKIP vm/setup: $*"; exit 0; }
fail_all() { echo "FAIL vm/setup: $*"; exit 1; }

# The first of its arguments (a glob's first match, or the pattern itself when nothing matched).
first() { echo "$1"; }

# Lines of a list file without comments and blanks.
list() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"; }

# The tools this needs; a machine without them skips the tier (scripts/deps installs them).
for tool in qemu-system-x86_64 cpio gzip depmod modprobe dpkg-deb apt-get ldd; do
	command -v "$tool" >/dev/null || skip_all "$tool not found (run scripts/deps)"
done
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	skip_all "/bin/busybox is missing or not static (install busybox-static: scripts/deps)"
fi
[ -x "$B/vigil" ] || fail_all "$B/vigil not built (run make)"
vm_bins=("$B"/tests/vm_*)
[ -x "${vm_bins[0]}" ] || fail_all "no $B/tests/vm_* binaries (run make)"

# Copies ELF file $1 to $2 inside staging dir $3 with every library ldd lists (and the dynamic
# loader) at their host paths.
add_elf() {
	local src=$1 dst=$2 st=$3 lib
	install -D -m 0755 "$src" "$st$dst"
	while read -r lib; do
		[ -e "$st$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$st$lib"
	done < <(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# Packs directory $1 into a gzip'ed newc cpio archive $2, files owned by root.
pack() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$2"
}

# The kernel-independent part of the image: busybox, /init, tests, vigil, iproute2, wg, jq.
build_common() {
	local st=$out/common b f
	rm -rf "$st" && mkdir -p "$st"/{bin,tests,proc,sys,dev,run,tmp,boot,lib/modules} || return 1
	install -m 0755 /bin/busybox "$st/bin/busybox"
	install -m 0755 tests/vm/init "$st/init"
	mkdir -p "$st/etc"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$st/etc/hosts"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$st/etc/passwd"
	echo 'root:x:0:' >"$st/etc/group"
	for b in "${vm_bins[@]}"; do add_elf "$b" "/tests/$(basename "$b")" "$st"; done
	for f in tests/vm/*.vmsh */tests/vm_*.vmsh; do
		[ -f "$f" ] && install -m 0644 "$f" "$st/tests/"
	done
	add_elf "$B/vigil" /bin/vigil "$st"
	add_elf "$(command -v ip)" /usr/local/sbin/ip "$st"
	command -v wg >/dev/null && add_elf "$(command -v wg)" /usr/local/bin/wg "$st"
	command -v jq >/dev/null && add_elf "$(command -v jq)" /usr/bin/jq "$st"
	pack "$st" "$out/common.cpio.gz"
}

# apt-get download of package $1 into directory $2, its output in $2/fetch.log.
download() {
	(cd "$2" && apt-get download -q -o APT::Sandbox::User=root "$1") >"$2/fetch.log" 2>&1
}

# Fetches and extracts kernel package $1 into .cache/vm/$1/root (once); prints the kernel
# version. Fails with a message on stderr.
fetch_kernel() {
	local pkg=$1 dir=$cache/$1 deb kver
	mkdir -p "$dir"
	deb=$(first "$dir"/*.deb)
	if [ ! -f "$deb" ]; then
		log "fetching $pkg"
		# A fresh machine may have no package lists yet: update them once and retry.
		if ! download "$pkg" "$dir" && [ "$(id -u)" = 0 ] && [ ! -e "$out/.apt-updated" ]; then
			log "apt-get download $pkg failed; running apt-get update and retrying"
			touch "$out/.apt-updated"
			apt-get update -qq >"$dir/update.log" 2>&1
			download "$pkg" "$dir"
		fi
		deb=$(first "$dir"/*.deb)
		if [ ! -f "$deb" ]; then
			echo "apt-get download $pkg failed: $(grep -E '^E:' "$dir/fetch.log" | head -n 1)" \
				"(run apt-get update; if the name is gone, pick a current one with" \
				"'apt-cache search linux-image-6.1 | grep cloud' for tests/vm/kernels)" >&2
			return 1
		fi
	fi
	if [ ! -f "$dir/root/.extracted" ]; then
		rm -rf "$dir/root" "$dir/root.tmp"
		dpkg-deb -x "$deb" "$dir/root.tmp" || { echo "dpkg-deb -x $deb failed" >&2; return 1; }
		kver=$(basename "$(first "$dir"/root.tmp/lib/modules/*)")
		depmod -b "$dir/root.tmp" "$kver" || { echo "depmod -b for $kver failed" >&2; return 1; }
		touch "$dir/root.tmp/.extracted"
		mv "$dir/root.tmp" "$dir/root"
	fi
	basename "$(first "$dir"/root/lib/modules/*)"
}

# The per-kernel part of the image: its config in /boot (tests read CONFIG_* from it) and the
# modules of tests/vm/modules with their dependencies, decompressed, with a fresh modules.dep.
build_kernel_part() {
	local kroot=$1 kver=$2 st=$out/$2/image mod ko rel dst f
	rm -rf "$st" && mkdir -p "$st/boot" "$st/lib/modules/$kver"
	cp "$kroot/boot/config-$kver" "$st/boot/"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$kroot/lib/modules/$kver/$f" ] && cp "$kroot/lib/modules/$kver/$f" "$st/lib/modules/$kver/"
	done
	while read -r mod; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$mod" >"$out/$kver/deps" 2>&1 || {
			echo "module $mod not found for $kver: $(head -n 1 "$out/$kver/deps")" >&2
			return 1
		}
		while read -r ko; do
			rel=${ko#"$kroot"}
			dst=$st${rel%.xz}
			[ -f "$dst" ] && continue
			mkdir -p "$(dirname "$dst")"
			case "$ko" in
			*.xz) /bin/busybox xz -dc "$ko" >"$dst" ;;
			*) cp "$ko" "$dst" ;;
			esac
		done < <(awk '$1 == "insmod" { print $2 }' "$out/$kver/deps")
	done < <(list tests/vm/modules)
	depmod -b "$st" "$kver" || { echo "depmod for the $kver image failed" >&2; return 1; }
	pack "$st" "$out/$kver/kernel.cpio.gz"
}

# Boots kernel package $1 and prints its tests' result lines with the kernel appended.
run_kernel() {
	local pkg=$1 kroot=$cache/$1/root kver console rc start secs append
	if ! kver=$(fetch_kernel "$pkg" 2>"$out/fetch.err"); then
		cat "$out/fetch.err" >&2
		echo "SKIP vm/boot [$pkg]: $(tail -n 1 "$out/fetch.err")"
		return 0
	fi
	cat "$out/fetch.err" >&2
	mkdir -p "$out/$kver"
	if ! build_kernel_part "$kroot" "$kver" 2>"$out/$kver/build.err"; then
		echo "FAIL vm/image [$kver]: $(tail -n 1 "$out/$kver/build.err")"
		return 1
	fi
	cat "$out/common.cpio.gz" "$out/$kver/kernel.cpio.gz" >"$out/$kver/initrd.gz"
	console=$out/$kver/console.log
	append="console=ttyS0 quiet lsm=lockdown,capability,landlock,yama,bpf panic=-1"
	[ -n "$VM_FILTER" ] && append="$append vigil.filter=$VM_FILTER"
	[ -n "$VM_APPEND" ] && append="$append $VM_APPEND"
	if [ "$VM_SHELL" = 1 ]; then
		log "booting $kver with a shell after the tests (exit the shell to power off)"
		qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot -net none \
			-kernel "$kroot/boot/vmlinuz-$kver" -initrd "$out/$kver/initrd.gz" \
			-append "$append vigil.shell=1"
		exit 0
	fi
	log "booting $kver (timeout ${VM_TIMEOUT}s, console in $console)"
	start=$(date +%s)
	# KVM hangs on these machines (see shared ENVIRONMENT.md); TCG boots in seconds.
	timeout --kill-after=5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 \
		-nographic -no-reboot -net none -kernel "$kroot/boot/vmlinuz-$kver" \
		-initrd "$out/$kver/initrd.gz" -append "$append" </dev/null 2>&1 |
		tr -d '\r' | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' >"$console"
	rc=${PIPESTATUS[0]}
	secs=$(($(date +%s) - start))
	log "$kver: qemu exited with status $rc after ${secs}s"
	# Result lines, the kernel appended to the test's name (before any ": reason").
	grep -aE '^(PASS|FAIL|SKIP) ' "$console" |
		sed -E "s/^(PASS|FAIL|SKIP) ([^ :]+)/\\1 \\2 [$kver]/"
	if grep -aq "^$MARKER" "$console"; then
		echo "PASS vm/boot [$kver]"
		! grep -aq '^FAIL ' "$console"
		return
	fi
	local why="no exit marker on the console"
	[ "$rc" = 124 ] && why="$why: timed out after ${VM_TIMEOUT}s"
	if grep -aq 'Kernel panic' "$console"; then
		why="$why: $(grep -a -m 1 -o 'Kernel panic.*' "$console")"
	else
		why="$why; last console lines: $(tail -n 3 "$console" | tr '\n' '|')"
	fi
	echo "FAIL vm/boot [$kver]: $why"
	log "last console lines of $kver:"
	tail -n 25 "$console" >&2
	return 1
}

mkdir -p "$out" "$cache"
kernels=${VM_KERNELS:-$(list tests/vm/kernels)}
[ -n "$kernels" ] || fail_all "tests/vm/kernels names no kernel"
build_common || fail_all "building the common initramfs failed"
status=0
for pkg in $kernels; do
	run_kernel "$pkg" || status=1
done
exit $status
