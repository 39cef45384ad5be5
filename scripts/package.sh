#!/usr/bin/env bash
# Packs a build of the `dist` profile (Cargo.toml: fully optimised) into the archive `cargo binstall`
# fetches (Cargo.toml's [package.metadata.binstall] names it the same way; tests/it/release.rs holds
# the two equal).
#   scripts/package.sh --name TARGET VERSION   print the archive's file name
#   scripts/package.sh TARGET VERSION          pack target/TARGET/dist into it, with a .sha256
set -euo pipefail
cd "$(dirname "$0")/.."
name_only=false
if [[ ${1:-} == --name ]]; then name_only=true; shift; fi
target=${1:?target triple}
version=${2:?version, without the v}
stem="nexudus-conformance-v$version-$target"
case $target in
  *windows*) ext=.exe archive="$stem.zip" ;;
  *) ext="" archive="$stem.tgz" ;;
esac
if $name_only; then echo "$archive"; exit 0; fi
mkdir -p "dist/$stem"
cp "target/$target/dist/nexudus-conformance$ext" README.md "dist/$stem/"
cd dist
case $archive in
  *.zip) 7z a -bd "$archive" "$stem" >/dev/null ;;
  *) tar czf "$archive" "$stem" ;;
esac
if command -v sha256sum >/dev/null; then sha256sum "$archive"; else shasum -a 256 "$archive"; fi >"$archive.sha256"
echo "dist/$archive"
