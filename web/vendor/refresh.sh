#!/usr/bin/env bash
# Refreshes the vendored browser libraries from the npm registry at the pinned versions below,
# with their licence files, and rewrites SHA256SUMS. Run it after changing a version; commit the
# result. Nothing here runs at build or run time: atelier embeds these files as they are.
#
# The three.js add-ons import the bare specifier 'three', which a browser can resolve only with
# an import map (an inline script, which atelier's Content-Security-Policy forbids); this script
# rewrites that one specifier to the relative path of the vendored module build.
set -euo pipefail
cd "$(dirname "$0")"

PUSHER_VERSION=8.6.0
THREE_VERSION=0.170.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # name version -> unpacked folder
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
  mkdir -p "$work/$1"
  tar xzf "$work/$1-$2.tgz" -C "$work/$1"
  echo "$work/$1/package"
}

rm -rf pusher-js three
mkdir -p pusher-js three/addons/loaders three/addons/utils three/addons/controls

src=$(fetch pusher-js "$PUSHER_VERSION")
cp "$src/dist/web/pusher.min.js" "$src/dist/web/pusher.min.js.LICENSE.txt" "$src/LICENCE" pusher-js/
echo "$PUSHER_VERSION" > pusher-js/VERSION

src=$(fetch three "$THREE_VERSION")
cp "$src/build/three.module.min.js" "$src/LICENSE" three/
for f in loaders/GLTFLoader.js utils/BufferGeometryUtils.js controls/OrbitControls.js; do
  sed "s#from 'three';#from '../../three.module.min.js';#" "$src/examples/jsm/$f" > "three/addons/$f"
done
echo "$THREE_VERSION" > three/VERSION

find pusher-js three -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
echo "vendored pusher-js $PUSHER_VERSION, three $THREE_VERSION; SHA256SUMS rewritten"
