#!/usr/bin/env bash
# install_test.sh -- `cmake --install` of the build into a staging folder
# (DESTDIR, prefix /opt/kfk), then small programs (use_kfk.c, and
# use_kfkd.c for the embeddable broker) built against what was
# installed: with pkg-config (shared, and static with --static), and
# with find_package(kfk) (kfk::kfk, kfk::kfk_static, kfk::kfkd,
# kfk::kfkd_static); each one is run.  Also checks that the headers, man pages and package
# files are where the standard folders say.
#
# Arguments: the sanitizers of the build (KFK_SANITIZER; the program must
# be built with them to link the instrumented library), may be empty.
# Exits 77 (skipped) when pkg-config, cmake or a C compiler is missing.
set -u
: "${KFK_BUILD_DIR:?}" "${KFK_SOURCE_DIR:?}"
san=${1:-}
CC=${CC:-cc}
for tool in "$CC" pkg-config cmake; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kfk-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/log" ] && tail -n 15 "$tmp/log"; }
check() { local what=$1; shift; if "$@" >"$tmp/log" 2>&1; then ok "$what"; else ko "$what"; fi; }

cflags=()
[ -n "$san" ] && cflags=(-fsanitize="$san" -fno-omit-frame-pointer)

check "cmake --install (DESTDIR, --prefix /opt/kfk)" \
    env DESTDIR="$tmp/root" cmake --install "$KFK_BUILD_DIR" --prefix /opt/kfk
P=$tmp/root/opt/kfk
libdir=$(ls -d "$P"/lib64 "$P"/lib 2>/dev/null | while read -r d; do
    [ -e "$d/libkfk.a" ] && echo "$d"; done | head -n 1)
for f in bin/kfkd bin/kfk include/kfk/kfk.h include/kfk/alloc.h include/kfk/version.h \
         share/man/man1/kfk.1 share/man/man8/kfkd.8; do
    check "installed $f" test -e "$P/$f"
done
ver=$(sed -nE 's/^project\(kfk VERSION ([0-9.]+).*/\1/p' "$KFK_SOURCE_DIR/CMakeLists.txt")
check "man pages carry the version of project() ($ver)" \
    grep -q "kfk $ver\"" "$P/share/man/man1/kfk.1" "$P/share/man/man8/kfkd.8"
check "installed libkfk.so, libkfk.a, libkfk.pc, kfkConfig.cmake" \
    test -e "$libdir/libkfk.so" -a -e "$libdir/libkfk.a" \
    -a -e "$libdir/pkgconfig/libkfk.pc" -a -e "$libdir/cmake/kfk/kfkConfig.cmake"

# pkg-config: the file must point into the staging prefix by itself.
export PKG_CONFIG_PATH=$libdir/pkgconfig
check "pkg-config --modversion" test "$(pkg-config --modversion libkfk)" != ""
check "pkg-config --cflags points at the installed headers" \
    test -e "$(pkg-config --variable=includedir libkfk)/kfk/kfk.h"
# shellcheck disable=SC2046
check "build with pkg-config (shared)" \
    "$CC" "${cflags[@]}" -o "$tmp/use_pc" "$KFK_SOURCE_DIR/tests/build/use_kfk.c" \
    $(pkg-config --cflags --libs libkfk)
check "run (shared, pkg-config)" env LD_LIBRARY_PATH="$libdir" "$tmp/use_pc"
# --static: libkfk.a (-l:libkfk.a, as the .so sits beside it) and the
# private dependencies the .pc file lists.
static_libs=$(pkg-config --static --libs libkfk | sed 's/-lkfk\b/-l:libkfk.a/')
# shellcheck disable=SC2086
check "build with pkg-config --static" \
    "$CC" "${cflags[@]}" -o "$tmp/use_pc_static" \
    "$KFK_SOURCE_DIR/tests/build/use_kfk.c" $(pkg-config --cflags libkfk) $static_libs
check "run (static, pkg-config)" "$tmp/use_pc_static"
check "the static program does not need libkfk.so" \
    bash -c "! ldd '$tmp/use_pc_static' | grep -q libkfk"

# libkfkd, the embeddable broker: the same ways (use_kfkd.c starts a
# broker on an ephemeral port and stops it).
check "installed include/kfk/kfkd.h, libkfkd.so, libkfkd.a, libkfkd.pc" \
    test -e "$P/include/kfk/kfkd.h" -a -e "$libdir/libkfkd.so" \
    -a -e "$libdir/libkfkd.a" -a -e "$libdir/pkgconfig/libkfkd.pc"
# shellcheck disable=SC2046
check "build use_kfkd with pkg-config (shared)" \
    "$CC" "${cflags[@]}" -o "$tmp/use_kfkd_pc" "$KFK_SOURCE_DIR/tests/build/use_kfkd.c" \
    $(pkg-config --cflags --libs libkfkd)
check "run use_kfkd (shared, pkg-config)" env LD_LIBRARY_PATH="$libdir" "$tmp/use_kfkd_pc"
kfkd_static_libs=$(pkg-config --static --libs libkfkd | sed 's/-lkfkd\b/-l:libkfkd.a/')
# shellcheck disable=SC2086
check "build use_kfkd with pkg-config --static" \
    "$CC" "${cflags[@]}" -o "$tmp/use_kfkd_static" \
    "$KFK_SOURCE_DIR/tests/build/use_kfkd.c" $(pkg-config --cflags libkfkd) $kfkd_static_libs
check "run use_kfkd (static, pkg-config)" "$tmp/use_kfkd_static"
check "the static use_kfkd does not need libkfkd.so" \
    bash -c "! ldd '$tmp/use_kfkd_static' | grep -q libkfkd"

# find_package(kfk): a tiny CMake project, shared and static.
mkdir -p "$tmp/proj"
cp "$KFK_SOURCE_DIR/tests/build/use_kfk.c" "$KFK_SOURCE_DIR/tests/build/use_kfkd.c" \
    "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.18)
project(use_kfk C)
find_package(kfk 0.1 REQUIRED)
add_executable(use_shared use_kfk.c)
target_link_libraries(use_shared PRIVATE kfk::kfk)
add_executable(use_static use_kfk.c)
target_link_libraries(use_static PRIVATE kfk::kfk_static)
add_executable(use_kfkd_shared use_kfkd.c)
target_link_libraries(use_kfkd_shared PRIVATE kfk::kfkd)
add_executable(use_kfkd_static use_kfkd.c)
target_link_libraries(use_kfkd_static PRIVATE kfk::kfkd_static)
CMAKE
check "find_package(kfk): configure" \
    cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="${cflags[*]}" \
    -DCMAKE_EXE_LINKER_FLAGS="${cflags[*]}"
check "find_package(kfk): build" cmake --build "$tmp/proj/build"
check "run (kfk::kfk)" "$tmp/proj/build/use_shared"
check "run (kfk::kfk_static)" "$tmp/proj/build/use_static"
check "run (kfk::kfkd)" "$tmp/proj/build/use_kfkd_shared"
check "run (kfk::kfkd_static)" "$tmp/proj/build/use_kfkd_static"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
