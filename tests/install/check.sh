#!/usr/bin/env bash
# The installed-library test (meson test suite 'install').
#
# Installs the build into a temporary DESTDIR, then acts as a program outside the tree would:
# finds bulb through pkg-config alone, compiles tests/install/consumer.cpp with
#   c++ -std=c++20 consumer.cpp $(pkg-config --cflags --libs bulb)
# and runs it against the installed libbulb.so. Also checks the SONAME (libbulb.so.MAJOR), that
# no libevent flag leaks into bulb.pc and that no installed header includes libevent/OpenSSL.
#
# With PROTOCOLS_CONSUMER_CPP, libbulb-protocols gets the same treatment through bulb-protocols.pc.
#
# With CMAKE_LISTS as well, both consumers are built again through the CMake package
# (find_package(bulb CONFIG), bulb::bulb, bulb::protocols), which must refuse wrong versions.
# Every program runs without LD_LIBRARY_PATH (rpath from -Wl,-rpath or CMake's build RPATH).
#
# usage: check.sh MESON BUILDDIR CONSUMER_CPP VERSION [PROTOCOLS_CONSUMER_CPP [CMAKE_LISTS]]
# env:   BULB_SOVERSION (libbulb.so.SOVERSION), CONSUMER_CXX (default c++), CONSUMER_CXXFLAGS (e.g. the build's -fsanitize=...),
#        KEEP_INSTALL_TMP=1 keeps the temporary tree.
set -euo pipefail

meson=$1 builddir=$2 consumer_src=$3 version=$4 protocols_src=${5:-} cmake_lists=${6:-}
major=${BULB_SOVERSION:?BULB_SOVERSION (the SONAME version, docs/versioning.md) is not set}
read -r -a cxx <<<"${CONSUMER_CXX:-c++}"  # may be "ccache c++": a command and its arguments
read -r -a cxxflags <<<"${CONSUMER_CXXFLAGS:-}"

fail() { echo "install test FAILED: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bulb-install.XXXXXX")
if [ "${KEEP_INSTALL_TMP:-0}" = 1 ]; then echo "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
root=$tmp/root

echo "== meson install --destdir $root"
"$meson" install -C "$builddir" --no-rebuild --quiet --destdir "$root" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log" >&2; fail "meson install"; }

# --- the pkg-config file ------------------------------------------------------------------
mapfile -t pcs < <(find "$root" -name bulb.pc -path '*/pkgconfig/*')
[ "${#pcs[@]}" -eq 1 ] || fail "expected one installed bulb.pc, found ${#pcs[@]}: ${pcs[*]:-none}"
echo "== ${pcs[0]#"$root"}"
cat "${pcs[0]}"
# The .pc file names the final prefix; the sysroot maps it into DESTDIR. Keep system-looking
# paths (a /usr prefix) so they are mapped too instead of being dropped.
export PKG_CONFIG_PATH=${pcs[0]%/*}${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
pc_version=$(pkg-config --modversion bulb) || fail "pkg-config cannot read bulb.pc"
[ "$pc_version" = "$version" ] || fail "bulb.pc says version $pc_version, the project is $version"
cflags=$(pkg-config --cflags bulb)
libs=$(pkg-config --libs bulb)
echo "cflags: $cflags"
echo "libs:   $libs"
case " $cflags $libs " in *event*|*ssl*|*crypto*) fail "libevent/OpenSSL flags leak into bulb.pc" ;; esac
case " $cflags " in *" -I$root/"*) ;; *) fail "cflags do not point into the installed tree" ;; esac
case " $cflags " in *" -std="*) fail "bulb.pc forces a language standard ($cflags): a -std=c++23 consumer would be downgraded" ;; esac
case " $libs " in *" -L$root/"*) ;; *) fail "libs do not point into the installed tree" ;; esac
libdir=$(pkg-config --variable=libdir bulb)
libdir=$root${libdir#"$root"}
includedir=$(pkg-config --variable=includedir bulb)
includedir=$root${includedir#"$root"}

# --- the shared library -------------------------------------------------------------------
[ -f "$libdir/libbulb.so.$version" ] || fail "$libdir/libbulb.so.$version is missing"
[ -L "$libdir/libbulb.so.$major" ] || fail "the libbulb.so.$major symlink is missing"
[ -L "$libdir/libbulb.so" ] || fail "the libbulb.so development symlink is missing"
soname=$(readelf -d "$libdir/libbulb.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "SONAME: $soname"
[ "$soname" = "libbulb.so.$major" ] || fail "SONAME is '$soname', expected libbulb.so.$major"

# --- the headers: public ones only, and no third-party includes -----------------------------
[ -f "$includedir/bulb/bulb.hpp" ] || fail "bulb/bulb.hpp is not installed"
if grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](event2|openssl)/' "$includedir/bulb"; then
    fail "an installed header includes libevent or OpenSSL (listed above)"
fi

# --- a program outside the tree, through pkg-config -------------------------------------------
# Linked with an rpath to the installed library directory (README: "Building and using the
# library"), so it runs without LD_LIBRARY_PATH.
unset LD_LIBRARY_PATH
rpath="-Wl,-rpath,$libdir"
mkdir "$tmp/consumer"
cp "$consumer_src" "$tmp/consumer/consumer.cpp"
cd "$tmp/consumer"
echo "== ${cxx[*]} -std=c++20 consumer.cpp ${cxxflags[*]} $cflags $libs $rpath"
# shellcheck disable=SC2086  # pkg-config output is meant to be word-split
"${cxx[@]}" -std=c++20 consumer.cpp "${cxxflags[@]}" $cflags $libs "$rpath" -o consumer || fail "the consumer does not build"
# Before C++20 the headers stop at once with a message that says what to do.
# shellcheck disable=SC2086
if "${cxx[@]}" -std=c++17 -fsyntax-only consumer.cpp $cflags >"$tmp/cxx17.log" 2>&1; then
    fail "the headers compile as C++17"
fi
grep -q "bulb needs C++20 or later" "$tmp/cxx17.log" || { cat "$tmp/cxx17.log" >&2; fail "C++17: no clear #error"; }

# check_program NAME LIBRARY [EXPECTED_OUTPUT]: NAME needs LIBRARY.so.SOVERSION, loads it from the
# installed tree without LD_LIBRARY_PATH, does not link libevent, and prints EXPECTED_OUTPUT.
check_program() {
    local program=$1 library=$2 expected=$3 needed loaded out
    needed=$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    echo "NEEDED: $needed"
    case " $needed " in *" $library.so.$major "*) ;; *) fail "$program does not need $library.so.$major" ;; esac
    case "$needed" in *event*) fail "$program links libevent directly" ;; esac
    loaded=$(LD_TRACE_LOADED_OBJECTS=1 "./$program" | grep 'libbulb' || true)
    echo "loaded (no LD_LIBRARY_PATH): ${loaded//$'\n'/ }"
    case "$loaded" in *"=> $libdir/$library.so.$major "*) ;; *) fail "$program does not load $library from the installed tree without LD_LIBRARY_PATH" ;; esac
    case "$loaded" in *"not found"*) fail "$program: a library is not found without LD_LIBRARY_PATH" ;; esac
    out=$("./$program") || fail "$program exited with status $? (output: $out)"
    echo "output: $out"
    [ "$out" = "$expected" ] || fail "$program: expected '$expected'"
}
check_program consumer libbulb "bulb $version: order=0ab result=42"

# --- libbulb-protocols: its own SONAME, and bulb-protocols.pc alone ---------------------------
if [ -n "$protocols_src" ]; then
    echo "== bulb-protocols"
    [ -e "${pcs[0]%/*}/bulb-protocols.pc" ] || fail "bulb-protocols.pc is not installed beside bulb.pc"
    soname=$(readelf -d "$libdir/libbulb-protocols.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    echo "SONAME: $soname"
    [ "$soname" = "libbulb-protocols.so.$major" ] || fail "SONAME is '$soname', expected libbulb-protocols.so.$major"
    flags=$(pkg-config --cflags --libs bulb-protocols) || fail "pkg-config cannot read bulb-protocols.pc"
    echo "== ${cxx[*]} -std=c++20 protocols_consumer.cpp ${cxxflags[*]} $flags $rpath"
    cp "$protocols_src" protocols_consumer.cpp
    # shellcheck disable=SC2086
    "${cxx[@]}" -std=c++20 protocols_consumer.cpp "${cxxflags[@]}" $flags "$rpath" -o protocols_consumer \
        || fail "the protocols consumer does not build"
    check_program protocols_consumer libbulb-protocols "max_line_length=128"
fi

# --- the same programs through the CMake package ----------------------------------------------
# find_package(bulb MAJOR.MINOR CONFIG REQUIRED) from CMAKE_PREFIX_PATH=the installed prefix, the
# imported targets bulb::bulb and bulb::protocols; CMake's build RPATH lets them run as they are.
if [ -n "$protocols_src" ] && [ -n "$cmake_lists" ]; then
    configs=$(find "$root" -path '*/cmake/bulb/bulbConfig.cmake')
    [ -n "$configs" ] || fail "bulbConfig.cmake is not installed"
    [ -f "${configs%/*}/bulbConfigVersion.cmake" ] || fail "bulbConfigVersion.cmake is not installed beside bulbConfig.cmake"
    echo "== ${configs#"$root"}"
    prefix=$(pkg-config --variable=prefix bulb)
    prefix=$root${prefix#"$root"}
    IFS=. read -r v_major v_minor _ <<<"$version"
    wrong="$v_major.$((v_minor + 1));$((v_major + 1)).0"
    if [ "$v_major" = 0 ] && [ "$v_minor" -gt 0 ]; then wrong+=";0.$((v_minor - 1))"; fi
    mkdir "$tmp/cmake"
    cp "$cmake_lists" "$tmp/cmake/CMakeLists.txt"
    cp "$consumer_src" "$tmp/cmake/consumer.cpp"
    cp "$protocols_src" "$tmp/cmake/protocols_consumer.cpp"
    cmake_args=(-S "$tmp/cmake" -B "$tmp/cmake/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
                -DBULB_WANT="$v_major.$v_minor" -DBULB_WRONG_VERSIONS="$wrong"
                -DCMAKE_CXX_COMPILER="${cxx[${#cxx[@]}-1]}" -DCMAKE_CXX_FLAGS="${cxxflags[*]}")
    if [ "${#cxx[@]}" -gt 1 ]; then
        launcher=("${cxx[@]:0:${#cxx[@]}-1}")
        cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$(IFS=';'; echo "${launcher[*]}")")
    fi
    echo "== cmake ${cmake_args[*]}"
    cmake "${cmake_args[@]}" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "cmake cannot configure the consumer"; }
    grep -E "bulb |find_package" "$tmp/cmake.log" || true
    cmake --build "$tmp/cmake/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "the CMake consumers do not build"; }
    grep -q -- "-std=c++20\|-std=gnu++20" "$tmp/cmake/build/compile_commands.json" 2>/dev/null \
        || grep -rq -- "-std=[a-z+]*20" "$tmp/cmake/build/build.ninja" || fail "bulb::bulb does not ask for C++20"
    cd "$tmp/cmake/build"
    check_program consumer libbulb "bulb $version: order=0ab result=42"
    check_program protocols_consumer libbulb-protocols "max_line_length=128"
fi
echo "install test passed"
