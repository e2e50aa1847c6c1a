#!/usr/bin/env bash
# POST /v1/images/generations with response_format b64_json: data[0].b64_json decodes to PNG,
# JPEG or WebP bytes. IMAGE_MODEL (default dall-e-3) and IMAGE_SIZE (default 1024x1024).
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${IMAGE_MODEL:-dall-e-3}
size=${IMAGE_SIZE:-1024x1024}

post_json /v1/images/generations "$(jq -n --arg model "$model" --arg size "$size" \
  '{model: $model, prompt: "A red bicycle leaning on a blue wall", n: 1, size: $size, response_format: "b64_json"}')"
expect_status 200
check '.created | type == "number"' 'created'
check '.data | type == "array" and length == 1' 'one entry in data (n: 1)'
check '.data[0].b64_json | type == "string" and length > 100' 'data[0].b64_json holds base64 image bytes'
field '.data[0].b64_json' | base64 --decode >"$TMP/image" 2>/dev/null || fail "$REQ: data[0].b64_json is not valid base64"
magic=$(od -An -tx1 -N12 "$TMP/image" | tr -d ' \n')
case $magic in
  89504e470d0a1a0a*) kind=PNG ;;
  ffd8ff*) kind=JPEG ;;
  52494646????????57454250) kind=WebP ;;
  *) fail "$REQ: data[0].b64_json is not a PNG, JPEG or WebP image (starts with bytes $magic)" ;;
esac

ok "200 in $(secs "$SECS"), model $model, $size $kind of $(wc -c <"$TMP/image" | tr -d ' ') bytes" \
  "$(field '.output_format // empty | "(output_format \(.))"')"
