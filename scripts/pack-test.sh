#!/usr/bin/env bash
# Installs napi-disruptor the way a user meets it, from `npm pack` tarballs, in a new project that
# cannot see this source tree, and uses it there from CommonJS, from an ES module (with a worker
# thread) and from TypeScript (tsc --noEmit against the installed types). Then removes the
# platform package and checks the error a user gets on a platform without a prebuilt binary.
#
# The packages are made as a release makes them, with @napi-rs/cli: `napi artifacts` copies the
# built binary into npm/linux-x64-gnu/, `napi pre-publish --skip-optional-publish` writes the main
# package's optionalDependencies. Only the binary built here exists, so both run with a napi
# config naming this platform's target alone (a release runs them with every target's artifact).
#
# Usage: bash scripts/pack-test.sh   (after `npm ci`/`npm install`; PACK_TEST_BUILD=0 skips the
# `npm run build` that makes the release binary and dist/ first).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
napi="$repo/node_modules/.bin/napi"
work="$(mktemp -d "${TMPDIR:-/tmp}/napi-disruptor-pack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
step() { printf '\n--- pack-test: %s\n' "$*"; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64-gnu target=x86_64-unknown-linux-gnu ;;
  *) echo "pack-test: only linux-x64-gnu is built and tested here" >&2; exit 1 ;;
esac
binary="napi-disruptor.$platform.node"

cd "$repo"
if [ "${PACK_TEST_BUILD:-1}" != 0 ]; then
  step "npm run build (release binary, dist/)"
  npm run build
fi

step "stage the packages as a release does"
stage="$work/stage"
mkdir -p "$stage"
# What package.json "files" lists, plus what npm always packs (package.json, README, LICENSE).
node -e 'for (const f of require("./package.json").files) console.log(f)' | while read -r f; do
  cp -r "$f" "$stage/"
done
cp package.json README.md LICENSE "$binary" "$stage/"
cp -r npm "$stage/npm"
printf '{"binaryName":"napi-disruptor","targets":["%s"]}\n' "$target" >"$work/napi.json"
# `prepare` builds from source in a checkout; a published package has nothing to build.
npm pkg delete scripts.prepare --prefix "$stage"
"$napi" artifacts --cwd "$stage" -c "$work/napi.json" --output-dir . --npm-dir npm
# pre-publish reads the last commit message (release tags), so the stage is a git repository.
git -C "$stage" init -q
git -C "$stage" add -A
git -C "$stage" -c user.name=pack-test -c user.email=pack-test@localhost commit -qm "pack-test stage"
"$napi" pre-publish --cwd "$stage" -c "$work/napi.json" -t npm --skip-optional-publish
node -e '
  const p = require(process.argv[1])
  const want = "napi-disruptor-" + process.argv[2]
  if (p.optionalDependencies?.[want] !== p.version) {
    console.error("pre-publish did not add", want, p.optionalDependencies); process.exit(1)
  }' "$stage/package.json" "$platform"

step "npm pack (main package, then the $platform package)"
(cd "$stage" && npm pack --ignore-scripts --pack-destination "$work" >/dev/null)
(cd "$stage/npm/$platform" && npm pack --ignore-scripts --pack-destination "$work" >/dev/null)
main_tgz="$(ls "$work"/napi-disruptor-[0-9]*.tgz)"
platform_tgz="$(ls "$work"/napi-disruptor-"$platform"-*.tgz)"
# The tarballs hold what a user needs and nothing else.
listing="$(tar -tzf "$main_tgz" | sort | tr '\n' ' ')"
echo "main package: $listing"
# dist/: what tsc built from src/, one .js and one .d.ts per module.
modules="$(cd "$repo/src" && find . -name '*.ts' | sed 's|^\./||; s|\.ts$||')"
expected="$( (printf '%s\n' package/LICENSE package/README.md package/binding.d.ts package/binding.js \
  package/index.d.mts package/index.mjs package/journal.d.mts package/journal.mjs package/nats.d.mts \
  package/nats.mjs package/package.json
  for m in $modules; do printf 'package/dist/%s.js\npackage/dist/%s.d.ts\n' "$m" "$m"; done) | sort | tr '\n' ' ')"
if [ "$listing" != "$expected" ]; then
  echo "pack-test: unexpected main package contents; expected: $expected" >&2
  exit 1
fi
echo "platform package: $(tar -tzf "$platform_tgz" | sort | tr '\n' ' ')"
tar -tzf "$platform_tgz" | grep -qx "package/$binary"

step "install both tarballs into an empty project outside the source tree"
project="$work/project"
mkdir -p "$project"
cp scripts/pack-test/*.cjs scripts/pack-test/*.mjs scripts/pack-test/*.mts scripts/pack-test/*.cts \
  scripts/pack-test/tsconfig.json "$project/"
cd "$project"
printf '{ "name": "pack-test-project", "version": "1.0.0", "private": true }\n' >package.json
# Only the two tarballs: nothing resolves to the source tree.
npm install --no-audit --no-fund --no-package-lock "$main_tgz" "$platform_tgz"
test ! -e node_modules/napi-disruptor/"$binary" # the binary comes from the platform package
test -f node_modules/napi-disruptor-"$platform"/"$binary"

step "CommonJS"
node cjs.cjs
step "ES module (with a worker thread producer)"
node esm.mjs
step "TypeScript: tsc --noEmit against the installed types (ESM and CommonJS files)"
tsc_version="$(node -p 'require(process.argv[1]).devDependencies.typescript' "$repo/package.json")"
types_version="$(node -p 'require(process.argv[1]).devDependencies["@types/node"]' "$repo/package.json")"
npm install --no-audit --no-fund --no-package-lock --prefer-offline \
  "typescript@$tsc_version" "@types/node@$types_version" >/dev/null
npx --no-install tsc -p tsconfig.json

step "no binary for this platform: a clear, coded error"
rm -rf node_modules/napi-disruptor-"$platform"
node -e '
  try {
    require("napi-disruptor")
  } catch (e) {
    const ok = e.code === "ERR_DISRUPTOR_NO_BINARY" && e.message.includes(process.argv[1]) &&
      e.message.includes("napi-disruptor-" + process.argv[1])
    console.log(e.message)
    process.exit(ok ? 0 : 1)
  }
  console.error("loaded without the platform package"); process.exit(1)' "$platform"

step "ok"
