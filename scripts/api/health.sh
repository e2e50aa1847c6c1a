#!/usr/bin/env bash
# GET /health (open): 200 {"status":"ok"}; and GET /v1/models without a key: 401 with an OpenAI
# error body, i.e. the deployment refuses callers without a key. Needs no API_KEY.
API_SCRIPT_NO_KEY=1 # read by _lib.sh
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"

call --no-key GET /health
expect_status 200
check '.status == "ok"' 'status is "ok"'
version=$(field '.version // "?"')
took=$(secs "$SECS")

call --no-key GET /v1/models
expect_status 401
check '.error.message | type == "string" and length > 0' 'a 401 carries {"error":{"message":…}}'

ok "200 in $took, version $version; no key -> 401 $(quote "$(field '.error.message')")"
