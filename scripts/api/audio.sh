#!/usr/bin/env bash
# Speech, then its transcription: POST /v1/audio/speech must answer audio/mpeg bytes (an ID3
# tag or an MPEG frame header), and POST /v1/audio/transcriptions of that MP3 (multipart file
# + model) must answer {"text": a non-empty string}. TTS_MODEL (tts-1), STT_MODEL (whisper-1).
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
tts=${TTS_MODEL:-tts-1}
stt=${STT_MODEL:-whisper-1}
sentence="The quick brown fox jumps over the lazy dog."

post_json /v1/audio/speech "$(jq -n --arg model "$tts" --arg input "$sentence" \
  '{model: $model, input: $input, voice: "alloy", response_format: "mp3"}')"
expect_status 200
expect_type audio/mpeg
cp "$BODY" "$TMP/speech.mp3"
magic=$(od -An -tx1 -N3 "$TMP/speech.mp3" | tr -d ' \n')
[[ $magic == 494433 || $magic == ff[ef]* ]] || fail "$REQ: the audio is not MP3 (starts with bytes $magic)"
speech="speech 200 in $(secs "$SECS") ($(wc -c <"$TMP/speech.mp3" | tr -d ' ') bytes of audio/mpeg)"

call POST /v1/audio/transcriptions -F "file=@$TMP/speech.mp3;type=audio/mpeg" -F "model=$stt"
expect_status 200
check '.text | type == "string" and length > 0' '{"text": a non-empty string}'

# Informative only: a real model should hear the sentence back; the emulator cannot.
heard=$(field .text)
heard_note=""
if grep -qi 'brown fox' <<<"$heard"; then heard_note=" (the spoken sentence)"; fi
ok "$speech; transcription 200 in $(secs "$SECS"): $(quote "$heard")$heard_note"
