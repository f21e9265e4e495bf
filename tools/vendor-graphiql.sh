#!/usr/bin/env bash
# Vendor GraphiQL and React into gateway/edge/graphiql/static/ from the npm registry, so the gateway
# serves GraphiQL with no CDN. A developer runs this when upgrading; CI never does: the files it
# writes are committed. Needs npm and tar; writes nothing outside the static folder.
#
#   tools/vendor-graphiql.sh
#
# GraphiQL 4.x is the last line with a UMD build usable from plain <script> tags (graphiql 5 is
# ESM-only and needs a bundler); React 18 is the last React with UMD builds.
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.3.1

cd "$(dirname "$0")/.."
dest=gateway/edge/graphiql/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" \
    "react-dom@$REACT_VERSION" >/dev/null)
for pkg in "graphiql-$GRAPHIQL_VERSION" "react-$REACT_VERSION" "react-dom-$REACT_VERSION"; do
    name=${pkg%-*}
    mkdir -p "$work/$name"
    tar -xzf "$work/$pkg.tgz" -C "$work/$name" --strip-components=1
done

cp "$work/graphiql/graphiql.min.js" "$work/graphiql/graphiql.min.css" "$dest/"
cp "$work/react/umd/react.production.min.js" "$dest/"
cp "$work/react-dom/umd/react-dom.production.min.js" "$dest/"
cp "$work/graphiql/LICENSE" "$dest/LICENSE.graphiql.txt"
cp "$work/react/LICENSE" "$dest/LICENSE.react.txt"
cp "$work/react-dom/LICENSE" "$dest/LICENSE.react-dom.txt"
# The minified files end with a sourceMappingURL comment naming maps we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest"/*.min.js
echo "vendored graphiql $GRAPHIQL_VERSION, react and react-dom $REACT_VERSION into $dest"
