#!/usr/bin/env bash
# Writes docs/architecture-graph.md: the apps and libs and the imports between them, drawn by
# dependency-cruiser from the code (.dependency-cruiser.cjs resolves #libs/*), one box per app
# or lib. `npm run graph` writes it; `npm run graph:check` (CI) fails when the committed one is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/architecture-graph.md
graph=$(npx depcruise apps libs --include-only '^(apps|libs)/' --collapse '^(apps|libs)/[^/]+' --output-type mermaid)
{
  echo '# Architecture graph'
  echo
  echo 'Apps and libs, and which imports which (an arrow points at what is imported). Generated from the'
  echo 'code by `npm run graph` (dependency-cruiser, `.dependency-cruiser.cjs`); do not edit by hand: CI'
  echo 'runs `npm run graph:check`, which fails when this file is not what the code draws. The rules the'
  echo 'graph must keep (no cycles, no lib imports an app, domain libs never import libs/http,'
  echo 'repositories stay inside their lib) are checked by `npm run lint`.'
  echo
  echo '```mermaid'
  echo "$graph"
  echo '```'
} >"$out"
echo "Wrote $out"
