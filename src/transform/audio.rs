//! Audio: `POST /v1/audio/transcriptions` and `/v1/audio/translations` (whisper) and
//! `POST /v1/audio/speech` (melotts).
//!
//! whisper-large-v3-turbo takes `{audio: base64, task, language, initial_prompt}` and answers
//! `{text, transcription_info, segments, vtt}`; whisper takes the audio as a list of byte values
//! and answers `{text, words, vtt}` (shared/reference/workers-ai-models).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat_request::check_range;
use super::json_body::describe;
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, Family, ResolvedModel};

/// The text fields of a transcription form (the `file` part travels separately).
#[derive(Debug, Default, Deserialize)]
pub struct TranscriptionForm {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    /// Checked, not passed on: Workers AI's whisper models take no temperature.
    #[serde(default)]
    pub temperature: Option<String>,
    #[serde(default, rename = "timestamp_granularities[]")]
    pub timestamp_granularities: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptFormat {
    Json,
    Text,
    VerboseJson,
    Vtt,
    Srt,
}

/// Transcribe in the audio's language, or translate it into English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioTask {
    Transcribe,
    Translate,
}

/// How the audio reaches the model.
#[derive(Debug, PartialEq, Eq)]
pub enum AudioInput {
    /// The whole JSON input, audio included as base64 (whisper-large-v3-turbo).
    Json(String),
    /// `{audio: [byte values]}`, built on the JS side from the bytes (whisper), so the large
    /// number list never exists in wasm memory.
    ByteList,
}

#[derive(Debug)]
pub struct TranscriptionPlan {
    pub model: ResolvedModel,
    pub input: AudioInput,
    format: TranscriptFormat,
    task: AudioTask,
    words: bool,
    language: Option<String>,
}

#[derive(Serialize)]
struct TurboInput<'a> {
    audio: String,
    task: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initial_prompt: Option<&'a str>,
}

pub fn plan_transcription(
    form: &TranscriptionForm,
    audio: Option<&[u8]>,
    task: AudioTask,
    overrides: &AliasOverrides,
) -> Result<TranscriptionPlan, GatewayError> {
    let model = models::resolve(form.model.as_deref().unwrap_or(""), overrides)?;
    if model.listed && model.spec.family != Family::SpeechToText {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not speech recognition. Use `whisper-1` (@cf/openai/whisper-large-v3-turbo) or `@cf/openai/whisper`.",
                model.requested, model.upstream_id, model.spec.family.task_name()
            ),
            Some("model"),
        ));
    }
    let audio = audio.filter(|a| !a.is_empty()).ok_or_else(|| {
        GatewayError::invalid(
            "`file` is required: send the audio as a multipart/form-data part named `file` (flac, mp3, mp4, m4a, ogg, wav or webm).",
            Some("file"),
        )
    })?;
    check_transcription_options(form)?;
    let format = match form.response_format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => TranscriptFormat::Json,
        Some("text") => TranscriptFormat::Text,
        Some("verbose_json") => TranscriptFormat::VerboseJson,
        Some("vtt") => TranscriptFormat::Vtt,
        Some("srt") => TranscriptFormat::Srt,
        Some(other) => {
            return Err(GatewayError::invalid(
                format!(
                "`response_format` must be json, text, verbose_json, vtt or srt; got `{other}`."
            ),
                Some("response_format"),
            ))
        }
    };
    // The original whisper models take byte values; newer ones (turbo) base64 with options.
    let takes_base64 = !matches!(
        model.upstream_id.as_str(),
        "@cf/openai/whisper" | "@cf/openai/whisper-tiny-en"
    );
    if task == AudioTask::Translate && !takes_base64 {
        return Err(GatewayError::invalid(
            format!(
                "{} cannot translate; use `whisper-1` (@cf/openai/whisper-large-v3-turbo).",
                model.upstream_id
            ),
            Some("model"),
        ));
    }
    let language = form
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let input = if takes_base64 {
        let prompt = form.prompt.as_deref().filter(|p| !p.trim().is_empty());
        let json = serde_json::to_string(&TurboInput {
            audio: STANDARD.encode(audio),
            task: match task {
                AudioTask::Transcribe => "transcribe",
                AudioTask::Translate => "translate",
            },
            language,
            initial_prompt: prompt,
        })
        .map_err(|err| GatewayError::Internal(format!("could not encode the audio: {err}")))?;
        AudioInput::Json(json)
    } else {
        AudioInput::ByteList
    };
    Ok(TranscriptionPlan {
        model,
        input,
        format,
        task,
        words: form.timestamp_granularities.iter().any(|g| g == "word"),
        language: language.map(str::to_owned),
    })
}

/// OpenAI's rules for the options the gateway accepts without passing on: `temperature` a number
/// from 0 to 1, `timestamp_granularities[]` each `word` or `segment`.
fn check_transcription_options(form: &TranscriptionForm) -> Result<(), GatewayError> {
    if let Some(raw) = form.temperature.as_deref().map(str::trim) {
        let temperature = raw.parse::<f64>().ok().filter(|t| t.is_finite());
        if temperature.is_none() {
            return Err(GatewayError::invalid(
                format!("`temperature` must be a number from 0 to 1; got `{raw}`."),
                Some("temperature"),
            ));
        }
        check_range("temperature", temperature, 0.0, 1.0)?;
    }
    if let Some(other) = form
        .timestamp_granularities
        .iter()
        .find(|g| !matches!(g.as_str(), "word" | "segment"))
    {
        return Err(GatewayError::invalid(
            format!("`timestamp_granularities[]` must be `word` or `segment`; got `{other}`."),
            Some("timestamp_granularities"),
        ));
    }
    Ok(())
}

/// What whisper answered (both models' fields, all optional but `text`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WhisperOutput {
    text: Option<String>,
    words: Vec<Word>,
    segments: Vec<UpstreamSegment>,
    transcription_info: Option<TranscriptionInfo>,
    vtt: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct Word {
    word: String,
    start: f64,
    end: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UpstreamSegment {
    start: f64,
    end: f64,
    text: String,
    temperature: f64,
    avg_logprob: f64,
    compression_ratio: f64,
    no_speech_prob: f64,
    words: Vec<Word>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TranscriptionInfo {
    language: Option<String>,
    duration: Option<f64>,
}

#[derive(Serialize)]
struct Segment<'a> {
    id: usize,
    seek: u32,
    start: f64,
    end: f64,
    text: &'a str,
    /// Workers AI reports no token ids.
    tokens: [u32; 0],
    temperature: f64,
    avg_logprob: f64,
    compression_ratio: f64,
    no_speech_prob: f64,
}

#[derive(Serialize)]
struct DurationUsage {
    r#type: &'static str,
    seconds: f64,
}

/// A finished transcript: its body and content type.
#[derive(Debug, PartialEq, Eq)]
pub struct Transcript {
    pub body: String,
    pub content_type: &'static str,
}

impl WhisperOutput {
    fn words(&self) -> Vec<Word> {
        if !self.words.is_empty() {
            return self.words.clone();
        }
        self.segments
            .iter()
            .flat_map(|s| s.words.iter().cloned())
            .collect()
    }

    fn duration(&self) -> f64 {
        let reported = self.transcription_info.as_ref().and_then(|i| i.duration);
        let last_word = self.words.last().map(|w| w.end);
        let last_segment = self.segments.last().map(|s| s.end);
        reported.or(last_segment).or(last_word).unwrap_or(0.0)
    }

    /// Cues as (start, end, text): the segments, else the whole text as one cue.
    fn cues(&self) -> Vec<(f64, f64, &str)> {
        if self.segments.is_empty() {
            let text = self.text.as_deref().unwrap_or("").trim();
            // Silence has no cues: an empty document, not a cue without text.
            match text.is_empty() {
                true => Vec::new(),
                false => vec![(0.0, self.duration(), text)],
            }
        } else {
            self.segments
                .iter()
                .map(|s| (s.start, s.end, s.text.trim()))
                .filter(|(_, _, text)| !text.is_empty())
                .collect()
        }
    }
}

/// Turns whisper's answer into the requested OpenAI format.
pub fn transcript(json: &str, plan: &TranscriptionPlan) -> Result<Transcript, GatewayError> {
    let not_a_transcript = || GatewayError::Upstream {
        code: None,
        message: format!(
            "`{}` answered something that is not a transcript (no `text`).",
            plan.model.upstream_id
        ),
    };
    let output: WhisperOutput = serde_json::from_str(json).map_err(|_| not_a_transcript())?;
    let text = output.text.as_deref().ok_or_else(not_a_transcript)?.trim();
    let json_body = |value: Value| Transcript {
        body: value.to_string(),
        content_type: "application/json",
    };
    let usage = DurationUsage {
        r#type: "duration",
        seconds: output.duration(),
    };
    Ok(match plan.format {
        TranscriptFormat::Json => json_body(serde_json::json!({"text": text, "usage": usage})),
        TranscriptFormat::Text => Transcript {
            body: format!("{text}\n"),
            content_type: "text/plain; charset=utf-8",
        },
        TranscriptFormat::VerboseJson => {
            let language = match plan.task {
                AudioTask::Translate => Some("english".to_owned()),
                AudioTask::Transcribe => output
                    .transcription_info
                    .as_ref()
                    .and_then(|i| i.language.clone())
                    .or_else(|| plan.language.clone()),
            };
            let segments: Vec<Segment<'_>> = output
                .segments
                .iter()
                .enumerate()
                .map(|(id, s)| Segment {
                    id,
                    seek: 0,
                    start: s.start,
                    end: s.end,
                    text: &s.text,
                    tokens: [],
                    temperature: s.temperature,
                    avg_logprob: s.avg_logprob,
                    compression_ratio: s.compression_ratio,
                    no_speech_prob: s.no_speech_prob,
                })
                .collect();
            let mut body = serde_json::json!({
                "task": match plan.task { AudioTask::Transcribe => "transcribe", AudioTask::Translate => "translate" },
                "language": language.as_deref().map_or("unknown", language_name),
                "duration": output.duration(),
                "text": text,
                "segments": segments,
                "usage": usage,
            });
            if plan.words {
                body["words"] = serde_json::json!(output.words());
            }
            json_body(body)
        }
        TranscriptFormat::Vtt => Transcript {
            body: match output
                .vtt
                .as_deref()
                .filter(|v| v.trim_start().starts_with("WEBVTT"))
            {
                Some(vtt) => vtt.to_owned(),
                None => subtitles(&output.cues(), false),
            },
            content_type: "text/vtt; charset=utf-8",
        },
        TranscriptFormat::Srt => Transcript {
            body: subtitles(&output.cues(), true),
            content_type: "application/x-subrip; charset=utf-8",
        },
    })
}

/// OpenAI names languages in words (`english`); whisper reports ISO 639-1 codes. Codes outside
/// this list (whisper's most used languages) are passed on as they are.
fn language_name(code: &str) -> &str {
    match code.to_ascii_lowercase().as_str() {
        "en" => "english",
        "fr" => "french",
        "de" => "german",
        "es" => "spanish",
        "it" => "italian",
        "pt" => "portuguese",
        "nl" => "dutch",
        "ru" => "russian",
        "uk" => "ukrainian",
        "pl" => "polish",
        "cs" => "czech",
        "sv" => "swedish",
        "da" => "danish",
        "no" | "nb" => "norwegian",
        "fi" => "finnish",
        "el" => "greek",
        "tr" => "turkish",
        "ar" => "arabic",
        "he" => "hebrew",
        "hi" => "hindi",
        "zh" => "chinese",
        "ja" => "japanese",
        "ko" => "korean",
        "vi" => "vietnamese",
        "th" => "thai",
        "id" => "indonesian",
        "ms" => "malay",
        "ro" => "romanian",
        "hu" => "hungarian",
        "ca" => "catalan",
        _ => code,
    }
}

/// WebVTT or SRT from cues. SRT numbers its cues and writes `00:00:01,000`.
fn subtitles(cues: &[(f64, f64, &str)], srt: bool) -> String {
    let mut out = String::new();
    if !srt {
        out.push_str("WEBVTT\n\n");
    }
    for (index, (start, end, text)) in cues.iter().enumerate() {
        if srt {
            out.push_str(&format!("{}\n", index + 1));
        }
        out.push_str(&format!(
            "{} --> {}\n{text}\n\n",
            timestamp(*start, srt),
            timestamp(*end, srt)
        ));
    }
    out
}

fn timestamp(seconds: f64, srt: bool) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    let separator = if srt { ',' } else { '.' };
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

// ---------------------------------------------------------------------------------------------
// Speech
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct SpeechRequest {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub stream_format: Option<String>,
    /// Not OpenAI's: melotts's speech language (`en`, `fr`, `es`, `zh`, `jp`, `kr`).
    #[serde(default, alias = "lang")]
    pub language: Option<String>,
    /// Checked, not passed on: melotts has one voice. A name, or a custom voice `{"id": …}`.
    #[serde(default)]
    pub voice: Option<Value>,
    /// Checked, not passed on: melotts has no speed setting.
    #[serde(default)]
    pub speed: Option<f64>,
}

#[derive(Debug)]
pub struct SpeechPlan {
    pub model: ResolvedModel,
    pub input_json: String,
}

#[derive(Serialize)]
struct MeloInput<'a> {
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
}

/// OpenAI's limit on `input`.
const MAX_SPEECH_CHARS: usize = 4096;

pub fn plan_speech(body: &str, overrides: &AliasOverrides) -> Result<SpeechPlan, GatewayError> {
    let request: SpeechRequest = super::json_body::parse_body(
        body,
        r#"{"model":"tts-1","input":"Hello there","voice":"alloy"}"#,
    )?;
    let model = models::resolve(request.model.as_deref().unwrap_or(""), overrides)?;
    if model.listed && model.spec.family != Family::TextToSpeech {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not speech. Use `tts-1` (@cf/myshell-ai/melotts).",
                model.requested,
                model.upstream_id,
                model.spec.family.task_name()
            ),
            Some("model"),
        ));
    }
    let input = request.input.as_deref().unwrap_or("").trim();
    if input.is_empty() {
        return Err(GatewayError::invalid(
            "`input` is required: the text to speak.",
            Some("input"),
        ));
    }
    let voice_ok = match &request.voice {
        None | Some(Value::Null) | Some(Value::String(_)) => true,
        Some(custom) => custom.get("id").is_some_and(Value::is_string),
    };
    if !voice_ok {
        return Err(GatewayError::invalid(
            format!(
                "`voice` must be a voice name such as \"alloy\" (or a custom voice {{\"id\": \"…\"}}); got {}.",
                request.voice.as_ref().map_or_else(String::new, describe)
            ),
            Some("voice"),
        ));
    }
    check_range("speed", request.speed, 0.25, 4.0)?;
    if input.chars().count() > MAX_SPEECH_CHARS {
        return Err(GatewayError::invalid(
            format!("`input` is longer than {MAX_SPEECH_CHARS} characters; split the text."),
            Some("input"),
        ));
    }
    match request.response_format.as_deref() {
        None | Some("mp3") => {}
        Some(other) => {
            return Err(GatewayError::invalid(
                format!("`response_format` `{other}` is not available: {} makes MP3 only. Use `mp3` (the default).", model.upstream_id),
                Some("response_format"),
            ))
        }
    }
    if request.stream_format.as_deref() == Some("sse") {
        return Err(GatewayError::invalid(
            "`stream_format: \"sse\"` is not available; omit it to get the audio bytes.",
            Some("stream_format"),
        ));
    }
    let input_json = serde_json::to_string(&MeloInput {
        prompt: input,
        lang: request.language.as_deref().filter(|l| !l.is_empty()),
    })
    .map_err(|err| GatewayError::Internal(format!("could not encode the speech request: {err}")))?;
    Ok(SpeechPlan { model, input_json })
}

#[derive(Deserialize)]
struct MeloOutput {
    #[serde(default)]
    audio: Option<String>,
}

/// The MP3 bytes from melotts's `{audio: base64}` answer.
pub fn speech_audio(json: &str, model: &str) -> Result<Vec<u8>, GatewayError> {
    let not_audio = |what: &str| GatewayError::Upstream {
        code: None,
        message: format!("`{model}` did not return audio ({what})."),
    };
    let output: MeloOutput =
        serde_json::from_str(json).map_err(|_| not_audio("the answer is not `{audio}` JSON"))?;
    let audio = output
        .audio
        .filter(|a| !a.is_empty())
        .ok_or_else(|| not_audio("the answer has no `audio`"))?;
    STANDARD
        .decode(audio.trim())
        .map_err(|_| not_audio("`audio` is not base64"))
}

/// The content type of audio bytes, read from them (MP3 unless they say otherwise).
pub fn audio_content_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "audio/wav",
        [b'O', b'g', b'g', b'S', ..] => "audio/ogg",
        [b'f', b'L', b'a', b'C', ..] => "audio/flac",
        _ => "audio/mpeg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(model: &str, format: Option<&str>) -> TranscriptionForm {
        TranscriptionForm {
            model: Some(model.into()),
            response_format: format.map(Into::into),
            ..Default::default()
        }
    }

    fn plan_for(model: &str, format: Option<&str>) -> TranscriptionPlan {
        plan_transcription(
            &form(model, format),
            Some(b"hello"),
            AudioTask::Transcribe,
            &AliasOverrides::default(),
        )
        .unwrap()
    }

    const TURBO: &str = r#"{"transcription_info":{"language":"en","duration":2.5},"text":" Hello world.","word_count":2,
        "segments":[{"start":0,"end":1.2,"text":" Hello","temperature":0,"avg_logprob":-0.1,"compression_ratio":1,"no_speech_prob":0.01,"words":[{"word":"Hello","start":0,"end":1.2}]},
                    {"start":1.2,"end":2.5,"text":" world.","words":[{"word":"world.","start":1.2,"end":2.5}]}],
        "vtt":"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello world.\n\n"}"#;
    const WHISPER: &str = r#"{"text":"Hello world","word_count":2,"words":[{"word":"Hello","start":0,"end":0.5},{"word":"world","start":0.5,"end":1}]}"#;

    #[test]
    fn turbo_gets_base64_and_options() {
        let mut f = form("whisper-1", None);
        f.language = Some("fr".into());
        f.prompt = Some("Names: Zoë".into());
        let plan = plan_transcription(
            &f,
            Some(b"hi"),
            AudioTask::Translate,
            &AliasOverrides::default(),
        )
        .unwrap();
        let AudioInput::Json(json) = &plan.input else {
            panic!("json input")
        };
        let input: Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            input,
            serde_json::json!({"audio":"aGk=","task":"translate","language":"fr","initial_prompt":"Names: Zoë"})
        );
        assert_eq!(
            plan_for("@cf/openai/whisper", None).input,
            AudioInput::ByteList
        );
    }

    #[test]
    fn bad_forms_are_400s() {
        let none = AliasOverrides::default();
        let cases: Vec<(TranscriptionForm, Option<&[u8]>, &str)> = vec![
            (form("whisper-1", None), None, "file"),
            (form("whisper-1", None), Some(b""), "file"),
            (
                form("whisper-1", Some("mp3")),
                Some(b"x"),
                "response_format",
            ),
            (form("gpt-4", None), Some(b"x"), "model"),
            (
                TranscriptionForm {
                    temperature: Some("hot".into()),
                    ..form("whisper-1", None)
                },
                Some(b"x"),
                "temperature",
            ),
            (
                TranscriptionForm {
                    temperature: Some("1.5".into()),
                    ..form("whisper-1", None)
                },
                Some(b"x"),
                "temperature",
            ),
            (
                TranscriptionForm {
                    timestamp_granularities: vec!["word".into(), "century".into()],
                    ..form("whisper-1", Some("verbose_json"))
                },
                Some(b"x"),
                "timestamp_granularities",
            ),
        ];
        for (f, audio, param) in cases {
            let err = plan_transcription(&f, audio, AudioTask::Transcribe, &none).unwrap_err();
            assert_eq!(err.status(), 400);
            assert_eq!(err.to_body().error.param, Some(param));
        }
        let err = plan_transcription(
            &form("@cf/openai/whisper", None),
            Some(b"x"),
            AudioTask::Translate,
            &none,
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot translate"));
    }

    #[test]
    fn every_format() {
        let json = transcript(TURBO, &plan_for("whisper-1", None)).unwrap();
        assert_eq!(json.content_type, "application/json");
        let body: Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(body["text"], "Hello world.");
        assert_eq!(
            body["usage"],
            serde_json::json!({"type":"duration","seconds":2.5})
        );

        let text = transcript(TURBO, &plan_for("whisper-1", Some("text"))).unwrap();
        assert_eq!(text.body, "Hello world.\n");

        let mut words_form = form("whisper-1", Some("verbose_json"));
        words_form.timestamp_granularities = vec!["word".into(), "segment".into()];
        words_form.temperature = Some(" 0.2 ".into());
        let verbose_plan = plan_transcription(
            &words_form,
            Some(b"x"),
            AudioTask::Transcribe,
            &AliasOverrides::default(),
        )
        .unwrap();
        let verbose: Value =
            serde_json::from_str(&transcript(TURBO, &verbose_plan).unwrap().body).unwrap();
        assert_eq!(verbose["language"], "english");
        assert_eq!(verbose["duration"], 2.5);
        assert_eq!(verbose["segments"][1]["id"], 1);
        assert_eq!(verbose["segments"][1]["tokens"], serde_json::json!([]));
        assert_eq!(verbose["words"][1]["word"], "world.");

        let vtt = transcript(TURBO, &plan_for("whisper-1", Some("vtt"))).unwrap();
        assert!(vtt
            .body
            .starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500"));
        let srt = transcript(TURBO, &plan_for("whisper-1", Some("srt"))).unwrap();
        assert_eq!(
            srt.body,
            "1\n00:00:00,000 --> 00:00:01,200\nHello\n\n2\n00:00:01,200 --> 00:00:02,500\nworld.\n\n"
        );
    }

    #[test]
    fn plain_whisper_output_without_segments() {
        let plan_v1 = plan_for("@cf/openai/whisper", Some("srt"));
        let srt = transcript(WHISPER, &plan_v1).unwrap();
        assert_eq!(
            srt.body,
            "1\n00:00:00,000 --> 00:00:01,000\nHello world\n\n"
        );
        let vtt = transcript(WHISPER, &plan_for("@cf/openai/whisper", Some("vtt"))).unwrap();
        assert_eq!(
            vtt.body,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello world\n\n"
        );
        assert_eq!(timestamp(3725.5, true), "01:02:05,500");
        assert!(transcript("[]", &plan_v1).is_err());
        let silent = transcript(r#"{"text":"","words":[]}"#, &plan_v1).unwrap();
        assert_eq!(silent.body, "");
        let silent_vtt = transcript(
            r#"{"text":" "}"#,
            &plan_for("@cf/openai/whisper", Some("vtt")),
        )
        .unwrap();
        assert_eq!(silent_vtt.body, "WEBVTT\n\n");
        assert_eq!(language_name("FR"), "french");
        assert_eq!(language_name("xx"), "xx");
    }

    #[test]
    fn speech_plans_and_decodes() {
        let none = AliasOverrides::default();
        let plan =
            plan_speech(r#"{"model":"tts-1","input":" Hi ","voice":"alloy"}"#, &none).unwrap();
        assert_eq!(plan.model.upstream_id, "@cf/myshell-ai/melotts");
        assert_eq!(plan.input_json, r#"{"prompt":"Hi"}"#);
        let fr = plan_speech(r#"{"model":"tts-1","input":"Salut","lang":"fr"}"#, &none).unwrap();
        assert_eq!(fr.input_json, r#"{"prompt":"Salut","lang":"fr"}"#);
        for (body, param) in [
            (r#"{"model":"tts-1","input":""}"#, "input"),
            (
                r#"{"model":"tts-1","input":"x","response_format":"wav"}"#,
                "response_format",
            ),
            (
                r#"{"model":"tts-1","input":"x","stream_format":"sse"}"#,
                "stream_format",
            ),
            (r#"{"model":"gpt-4","input":"x"}"#, "model"),
            (r#"{"model":"tts-1","input":"x","voice":5}"#, "voice"),
            (
                r#"{"model":"tts-1","input":"x","voice":{"name":"x"}}"#,
                "voice",
            ),
            (r#"{"model":"tts-1","input":"x","speed":"fast"}"#, "speed"),
            (r#"{"model":"tts-1","input":"x","speed":100}"#, "speed"),
            (r#"{"model":"tts-1","input":"x","speed":0.1}"#, "speed"),
        ] {
            assert_eq!(
                plan_speech(body, &none).unwrap_err().to_body().error.param,
                Some(param)
            );
        }
        for body in [
            r#"{"model":"tts-1","input":"x","voice":"nova","speed":4}"#,
            r#"{"model":"tts-1","input":"x","voice":{"id":"voice_1234"},"speed":0.25}"#,
        ] {
            assert!(plan_speech(body, &none).is_ok(), "{body}");
        }
        assert_eq!(
            speech_audio(r#"{"audio":"//uQxA=="}"#, "m").unwrap(),
            vec![0xff, 0xfb, 0x90, 0xc4]
        );
        assert!(speech_audio(r#"{"audio":"***"}"#, "m").is_err());
        assert!(speech_audio(r#"{}"#, "m").is_err());
        assert_eq!(audio_content_type(&[0xff, 0xfb]), "audio/mpeg");
        assert_eq!(audio_content_type(b"RIFF\0\0\0\0WAVEfmt "), "audio/wav");
    }
}
