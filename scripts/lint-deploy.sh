#!/usr/bin/env bash
# Lint the Docker deployment without a Docker engine (`make lint` runs this):
#   1. docker-compose.yml against the Compose Specification's JSON schema (the copy vendored in
#      check-jsonschema: --builtin-schema vendor.compose-spec);
#   2. docker/Dockerfile with hadolint;
#   3. docker/entrypoint.sh and this script: `sh -n`/`bash -n`, and shellcheck when it is installed;
#   4. `docker compose config -q` when the Compose plugin is installed (it interpolates and checks
#      what the schema cannot, e.g. that every depends_on names a service).
# It installs nothing. Tools: CHECK_JSONSCHEMA, HADOLINT, SHELLCHECK (default: .venv/bin/<tool>,
# then PATH); shellcheck and docker compose are optional and skipped with a note when absent.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tool() {  # tool VAR name: the explicit path, else .venv/bin/name, else name on PATH
    local given=$1 name=$2
    if [[ -n $given ]]; then
        echo "$given"
    elif [[ -x .venv/bin/$name ]]; then
        echo ".venv/bin/$name"
    else
        command -v "$name" || true
    fi
}

check_jsonschema=$(tool "${CHECK_JSONSCHEMA:-}" check-jsonschema)
hadolint=$(tool "${HADOLINT:-}" hadolint)
shellcheck=$(tool "${SHELLCHECK:-}" shellcheck)
for need in check_jsonschema hadolint; do
    if [[ -z ${!need} ]]; then
        echo "lint-deploy: ${need//_/-} is not installed (make install)" >&2
        exit 2
    fi
done

echo "lint-deploy: docker-compose.yml against the Compose Specification schema"
"$check_jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

echo "lint-deploy: docker/Dockerfile with $("$hadolint" --version)"
"$hadolint" --failure-threshold info docker/Dockerfile

echo "lint-deploy: shell scripts"
sh -n docker/entrypoint.sh
bash -n scripts/lint-deploy.sh
if [[ -n $shellcheck ]]; then
    "$shellcheck" docker/entrypoint.sh scripts/lint-deploy.sh
else
    echo "  (shellcheck not installed: syntax checked only)"
fi

if docker compose version > /dev/null 2>&1; then
    echo "lint-deploy: docker compose config"
    # Placeholders for the variables docker-compose.yml requires (a real .env is not needed).
    POSTGRES_PASSWORD=lint JWT_SECRET=lint ENCRYPTION_KEY=lint \
        docker compose --env-file .env.example -f docker-compose.yml config -q
else
    echo "  (docker compose plugin not installed: skipped \`docker compose config\`)"
fi
echo "lint-deploy: ok"
