#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/docker/Dockerfile, without a Docker daemon: hadolint when it is installed (it is not
# in Debian), dockerfile-utils' linter (npm), and always the checks of deploy/docker/README.md (pinned bases, apt hygiene,
# non-root USER, HEALTHCHECK, build packages = scripts/deps, runtime libraries = what
# build/vigil links).
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
bin=${VIGIL_BUILD:-build}/vigil

if command -v hadolint >/dev/null; then
	check hadolint hadolint deploy/docker/Dockerfile
else
	skip hadolint "hadolint is not packaged in Debian; dockerfile-utils and deploy_check.py run instead"
fi
# dockerfile-utils (npm, scripts/package.json): the linter of the VS Code Docker extension
dfu="$VIGIL_ROOT/.cache/npm/node_modules/.bin/dockerfile-utils"
if [ -x "$dfu" ]; then
	check dockerfile_utils_lint "$dfu" lint deploy/docker/Dockerfile
else
	skip dockerfile_utils_lint "dockerfile-utils is not installed (scripts/deps)"
fi
if [ -x "$bin" ]; then
	check dockerfile "$PY" tests/integration/deploy_check.py dockerfile deploy/docker/Dockerfile \
		scripts/deps "$bin"
else
	check dockerfile "$PY" tests/integration/deploy_check.py dockerfile deploy/docker/Dockerfile \
		scripts/deps
	skip runtime_libraries "$bin is not built (make)"
fi
exit "$T_FAILED"
