#!/usr/bin/env bash
# The Debian package, built by scripts/package from this source tree: every file
# the package must ship is in the .deb (the binary, the systemd user unit, both
# man pages, the three shell completions, the example configuration, the README,
# the notify, UnifiedPush and FCM modules, the D-Bus activation file, and everything
# else meson installs), the unit is not enabled on install, and the program
# unpacked from it runs. lintian errors fail scripts/package.
#
#   package_test.sh SOURCE_ROOT WORK_DIR
#
# Exit 77 (skip) where the Debian packaging tools are missing. The build compiles
# the whole program in release mode: minutes, not seconds.
set -euo pipefail

src=${1:?usage: package_test.sh SOURCE_ROOT WORK_DIR}
work=${2:?usage: package_test.sh SOURCE_ROOT WORK_DIR}

for tool in dpkg-buildpackage dh lintian dpkg-deb git; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not found: the package test needs dpkg-dev, debhelper and lintian (apt-get install dpkg-dev debhelper lintian)"
    exit 77
  fi
done

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

rm -rf "$work"
mkdir -p "$work"
version=$(cd "$src" && meson introspect --projectinfo meson.build 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')

# ---- build ---------------------------------------------------------------------
# noautodbgsym: no webpushd-dbgsym package (xz-compressing its debug info takes
# a minute); webpushd's own .deb is the same with or without it.
export DEB_BUILD_OPTIONS="noautodbgsym${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
started=$SECONDS
if ! "$src/scripts/package" --work "$work/build" --out "$work/dist" | tee "$work/package.log"; then
  echo "FAIL: scripts/package failed (the build is in $work/build)"
  exit 1
fi
echo "[ measure ] scripts/package (build, lintian): $((SECONDS - started)) s"
grep -q '^      0 error(s)' "$work/package.log" || fail "lintian's summary line is missing or shows errors"

mapfile -t debs < <(find "$work/dist" -name "webpushd_${version}_*.deb")
((${#debs[@]} == 1)) || {
  echo "FAIL: expected one webpushd_${version}_*.deb in $work/dist, found ${#debs[@]}"
  exit 1
}
deb=${debs[0]}
echo "package: $deb ($(stat -c %s "$deb") bytes)"

# ---- contents ------------------------------------------------------------------
# dpkg-deb -c: "mode owner size date time ./path[ -> target]".
dpkg-deb -c "$deb" | awk '{ print substr($6, 2) }' | sort >"$work/contents.txt"
in_deb() { grep -qxF "$1" "$work/contents.txt"; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
required=(
  /usr/bin/webpushd
  /usr/libexec/webpushd/webpushd-run
  "/usr/lib/$multiarch/webpushd/webpushd-notify.so"
  "/usr/lib/$multiarch/webpushd/webpushd-unifiedpush.so"
  "/usr/lib/$multiarch/webpushd/webpushd-fcm.so"
  /usr/lib/systemd/user/webpushd.service
  /usr/share/dbus-1/services/org.unifiedpush.Distributor.webpushd.service
  /usr/share/man/man1/webpushd.1.gz
  /usr/share/man/man5/webpushd.toml.5.gz
  /usr/share/bash-completion/completions/webpushd
  /usr/share/zsh/vendor-completions/_webpushd
  /usr/share/fish/vendor_completions.d/webpushd.fish
  /usr/share/doc/webpushd/config.toml.example
  /usr/share/doc/webpushd/README.md
  /usr/share/doc/webpushd/copyright
)
for path in "${required[@]}"; do
  if in_deb "$path"; then ok "$path"; else fail "$path is not in the package"; fi
done

# Everything `meson install` puts in place in the package's own build directory
# (man pages and long documents gzipped by dh_compress).
mapfile -t objdirs < <(find "$work/build/webpushd-$version" -maxdepth 2 -name meson-info -type d)
if ((${#objdirs[@]} != 1)); then
  fail "expected one meson build directory in $work/build/webpushd-$version, found ${#objdirs[@]}"
else
  mapfile -t installed < <(meson introspect --installed "$(dirname "${objdirs[0]}")" |
    python3 -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin).values())))')
  ((${#installed[@]} > 0)) || fail "meson introspect --installed lists nothing"
  for path in "${installed[@]}"; do
    if in_deb "$path" || in_deb "$path.gz"; then ok "meson installs $path"; else fail "meson installs $path, the package lacks it"; fi
  done
fi

# ---- unpacked ------------------------------------------------------------------
root=$work/root
dpkg -x "$deb" "$root"
if out=$("$root/usr/bin/webpushd" --version 2>&1) && [[ $out == *"$version"* ]]; then
  ok "webpushd --version from the package: $out"
else
  fail "webpushd --version from the package printed '$out', not the version $version"
fi

# The completions are what the packaged program prints.
declare -A completion_files=(
  [bash]=usr/share/bash-completion/completions/webpushd
  [zsh]=usr/share/zsh/vendor-completions/_webpushd
  [fish]=usr/share/fish/vendor_completions.d/webpushd.fish
)
for shell in bash zsh fish; do
  file=$root/${completion_files[$shell]}
  if [[ -s $file ]] && cmp -s "$file" <("$root/usr/bin/webpushd" completion "$shell"); then
    ok "$shell completion = webpushd completion $shell"
  else
    fail "${completion_files[$shell]} is missing, empty or not what 'webpushd completion $shell' prints"
  fi
done
bash -n "$root/${completion_files[bash]}" || fail "the bash completion does not parse"

unit=$root/usr/lib/systemd/user/webpushd.service
if grep -qx 'ExecStart=/usr/bin/webpushd run' "$unit" && ! grep -q '@[A-Z]*@' "$unit"; then
  ok "the unit starts /usr/bin/webpushd run"
else
  fail "the unit's ExecStart is not '/usr/bin/webpushd run' or a @VARIABLE@ is left: $(grep -E 'ExecStart|@' "$unit")"
fi

# The D-Bus activation file names the distributor's bus name, starts the same
# program and hands the start to the user unit.
activation=$root/usr/share/dbus-1/services/org.unifiedpush.Distributor.webpushd.service
if [[ -f $activation ]] &&
  grep -qx 'Name=org.unifiedpush.Distributor.webpushd' "$activation" &&
  grep -qx 'Exec=/usr/bin/webpushd run' "$activation" &&
  grep -qx 'SystemdService=webpushd.service' "$activation" &&
  ! grep -q '@[A-Z]*@' "$activation"; then
  ok "the D-Bus activation file starts /usr/bin/webpushd run through webpushd.service"
else
  fail "the D-Bus activation file is missing, or its Name/Exec/SystemdService is not as expected or a @VARIABLE@ is left"
fi

# The user unit is shipped, not enabled: run the package's postinst (configure,
# first install) against a deb-systemd-helper that records its calls and answers
# "not enabled before"; no call may enable the unit.
dpkg-deb -e "$deb" "$work/control"
if [[ -f $work/control/postinst ]]; then
  mkdir -p "$work/fakebin"
  cat >"$work/fakebin/deb-systemd-helper" <<'EOF'
#!/bin/sh
echo "$*" >>"$CALLS"
case " $* " in *" was-enabled "*) exit 1 ;; esac
exit 0
EOF
  chmod +x "$work/fakebin/deb-systemd-helper"
  : >"$work/calls"
  PATH=$work/fakebin:$PATH CALLS=$work/calls sh "$work/control/postinst" configure ||
    fail "postinst configure failed"
  if grep -qw enable "$work/calls"; then
    fail "postinst enables the user unit: $(tr '\n' ';' <"$work/calls")"
  else
    ok "postinst does not enable the user unit (calls: $(tr '\n' ';' <"$work/calls"))"
  fi
fi
if grep -q '^/etc/systemd/' "$work/contents.txt"; then fail "the package ships files under /etc/systemd"; fi

echo "[ measure ] package test: $((SECONDS - started)) s"
if ((failures)); then
  echo "$failures check(s) failed; the build is in $work"
  exit 1
fi
rm -rf "$work"
echo "package test passed"
