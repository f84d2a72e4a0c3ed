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
# usage: check.sh MESON BUILDDIR CONSUMER_CPP VERSION [PROTOCOLS_CONSUMER_CPP]
# env:   CONSUMER_CXX (default c++), CONSUMER_CXXFLAGS (e.g. the build's -fsanitize=...),
#        KEEP_INSTALL_TMP=1 keeps the temporary tree.
set -euo pipefail

meson=$1 builddir=$2 consumer_src=$3 version=$4 protocols_src=${5:-}
major=${version%%.*}
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

# --- a program outside the tree --------------------------------------------------------------
mkdir "$tmp/consumer"
cp "$consumer_src" "$tmp/consumer/consumer.cpp"
cd "$tmp/consumer"
echo "== ${cxx[*]} -std=c++20 consumer.cpp ${cxxflags[*]} $cflags $libs"
# shellcheck disable=SC2086  # pkg-config output is meant to be word-split
"${cxx[@]}" -std=c++20 consumer.cpp "${cxxflags[@]}" $cflags $libs -o consumer || fail "the consumer does not build"
# Before C++20 the headers stop at once with a message that says what to do.
# shellcheck disable=SC2086
if "${cxx[@]}" -std=c++17 -fsyntax-only consumer.cpp $cflags >"$tmp/cxx17.log" 2>&1; then
    fail "the headers compile as C++17"
fi
grep -q "bulb needs C++20 or later" "$tmp/cxx17.log" || { cat "$tmp/cxx17.log" >&2; fail "C++17: no clear #error"; }
needed=$(readelf -d consumer | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "NEEDED: $needed"
case " $needed " in *" libbulb.so.$major "*) ;; *) fail "the consumer does not need libbulb.so.$major" ;; esac
case "$needed" in *event*) fail "the consumer links libevent directly" ;; esac

export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
loaded=$(LD_TRACE_LOADED_OBJECTS=1 ./consumer | grep 'libbulb\.so' || true)
echo "loaded: $loaded"
case "$loaded" in *"=> $libdir/libbulb.so.$major "*) ;; *) fail "libbulb is not loaded from the installed tree" ;; esac

out=$(./consumer) || fail "the consumer exited with status $? (output: $out)"
echo "output: $out"
expected="bulb $version: order=0ab result=42"
[ "$out" = "$expected" ] || fail "expected '$expected'"

# --- libbulb-protocols: its own SONAME, and bulb-protocols.pc alone ---------------------------
if [ -n "$protocols_src" ]; then
    echo "== bulb-protocols"
    [ -e "${pcs[0]%/*}/bulb-protocols.pc" ] || fail "bulb-protocols.pc is not installed beside bulb.pc"
    soname=$(readelf -d "$libdir/libbulb-protocols.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    echo "SONAME: $soname"
    [ "$soname" = "libbulb-protocols.so.$major" ] || fail "SONAME is '$soname', expected libbulb-protocols.so.$major"
    flags=$(pkg-config --cflags --libs bulb-protocols) || fail "pkg-config cannot read bulb-protocols.pc"
    echo "== ${cxx[*]} -std=c++20 protocols_consumer.cpp ${cxxflags[*]} $flags"
    cp "$protocols_src" protocols_consumer.cpp
    # shellcheck disable=SC2086
    "${cxx[@]}" -std=c++20 protocols_consumer.cpp "${cxxflags[@]}" $flags -o protocols_consumer \
        || fail "the protocols consumer does not build"
    out=$(./protocols_consumer) || fail "the protocols consumer exited with status $? (output: $out)"
    echo "output: $out"
    [ "$out" = "max_line_length=128" ] || fail "expected 'max_line_length=128'"
fi
echo "install test passed"
