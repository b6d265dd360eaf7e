#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/docker/Dockerfile, without a Docker daemon: dockerfile-utils' linter (npm; hadolint is
# not packaged in Debian, so it is not used), and always the checks of deploy/docker/README.md (pinned bases, apt hygiene,
# non-root USER, HEALTHCHECK, build packages = scripts/deps, runtime libraries = what
# build/vigil links).
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
bin=${VIGIL_BUILD:-build}/vigil

# dockerfile-utils (npm, scripts/package.json): the linter of the VS Code Docker extension
dfu="$VIGIL_ROOT/.cache/npm/node_modules/.bin/dockerfile-utils"
if [ -x "$dfu" ]; then
	check dockerfile_utils_lint "$dfu" lint deploy/docker/Dockerfile
else
	fail dockerfile_utils_lint "dockerfile-utils is not installed: run scripts/deps"
fi
if [ -x "$bin" ]; then
	check dockerfile "$PY" tests/integration/deploy_check.py dockerfile deploy/docker/Dockerfile \
		scripts/deps "$bin"
else
	check dockerfile "$PY" tests/integration/deploy_check.py dockerfile deploy/docker/Dockerfile \
		scripts/deps
	fail runtime_libraries "$bin is not built: run make"
fi
exit "$T_FAILED"
