//! Incremental filters over streamed answer text. Each gives the same output however the text is
//! split, and holds back only what it must (a possible partial tag or stop sequence).

use std::borrow::Cow;

/// Splits `<think>…</think>` reasoning off the start of a streamed answer (DeepSeek-R1, QwQ).
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    state: ThinkState,
    pending: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ThinkState {
    /// Nothing but whitespace seen yet: is a `<think>` coming?
    #[default]
    Start,
    /// Just after `<think>`: drop the whitespace before the thought.
    ThoughtStart,
    Thinking,
    /// Just after `</think>`: drop the whitespace before the answer.
    AnswerStart,
    Answer,
}

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Text routed by a filter: reasoning, and answer content.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Routed {
    pub reasoning: String,
    pub content: String,
}

impl ThinkSplitter {
    pub fn feed(&mut self, text: &str) -> Routed {
        let mut out = Routed::default();
        self.pending.push_str(text);
        loop {
            match self.state {
                ThinkState::Start => {
                    let trimmed = self.pending.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.pending = rest.to_owned();
                        self.state = ThinkState::ThoughtStart;
                    } else if trimmed.is_empty() || OPEN.starts_with(trimmed) {
                        return out; // wait for more
                    } else {
                        self.state = ThinkState::Answer;
                    }
                }
                ThinkState::ThoughtStart => {
                    if !self.skip_whitespace(ThinkState::Thinking) {
                        return out;
                    }
                }
                ThinkState::Thinking => match self.pending.find(CLOSE) {
                    Some(end) => {
                        out.reasoning.push_str(self.pending[..end].trim_end());
                        self.pending.drain(..end + CLOSE.len());
                        self.state = ThinkState::AnswerStart;
                    }
                    None => {
                        // Hold a possible partial `</think>` and the whitespace before it, which
                        // is dropped if the thought ends there.
                        let keep = partial_suffix(&self.pending, CLOSE);
                        let emit = self.pending[..self.pending.len() - keep].trim_end().len();
                        out.reasoning.push_str(&self.pending[..emit]);
                        self.pending.drain(..emit);
                        return out;
                    }
                },
                ThinkState::AnswerStart => {
                    if !self.skip_whitespace(ThinkState::Answer) {
                        return out;
                    }
                }
                ThinkState::Answer => {
                    out.content.push_str(&self.pending);
                    self.pending.clear();
                    return out;
                }
            }
        }
    }

    /// Drops leading whitespace; once text follows, moves to `next`. False: wait for more.
    fn skip_whitespace(&mut self, next: ThinkState) -> bool {
        let start = self.pending.len() - self.pending.trim_start().len();
        self.pending.drain(..start);
        if self.pending.is_empty() {
            return false;
        }
        self.state = next;
        true
    }

    /// End of stream: whatever is held back is released where it belongs.
    pub fn finish(&mut self) -> Routed {
        let pending = std::mem::take(&mut self.pending);
        match self.state {
            ThinkState::ThoughtStart | ThinkState::Thinking => Routed {
                reasoning: pending.trim().to_owned(),
                content: String::new(),
            },
            _ => Routed {
                reasoning: String::new(),
                content: pending.trim_start().to_owned(),
            },
        }
    }
}

/// The length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

/// Applies OpenAI `stop` sequences to streamed text for models that lack the parameter.
#[derive(Debug, Default)]
pub struct StopScanner {
    stops: Vec<String>,
    pending: String,
    stopped: bool,
}

impl StopScanner {
    pub fn new(stops: Vec<String>) -> Self {
        StopScanner {
            stops,
            ..Self::default()
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The text that is safe to emit now (borrowed when there are no stop sequences).
    pub fn feed<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        if self.stopped {
            return Cow::Borrowed("");
        }
        if self.stops.is_empty() {
            return Cow::Borrowed(text);
        }
        self.pending.push_str(text);
        if let Some(cut) = super::chat::first_stop(&self.pending, &self.stops) {
            self.stopped = true;
            let mut emit = std::mem::take(&mut self.pending);
            emit.truncate(cut);
            return Cow::Owned(emit);
        }
        let keep = self
            .stops
            .iter()
            .map(|stop| partial_suffix(&self.pending, stop))
            .max()
            .unwrap_or(0);
        let emit_len = self.pending.len() - keep;
        let emit = self.pending[..emit_len].to_owned();
        self.pending.drain(..emit_len);
        Cow::Owned(emit)
    }

    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        std::mem::take(&mut self.pending)
    }
}

/// Decides, from the start of an answer, whether it may be a tool call written as text (a JSON
/// object or list, or a `<tool_call>` tag). Such an answer is held to the end and parsed;
/// anything else streams through untouched.
#[derive(Debug, Default)]
pub struct LeakedCallGuard {
    state: GuardState,
    held: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum GuardState {
    #[default]
    Undecided,
    Holding,
    PassThrough,
}

impl LeakedCallGuard {
    /// Decided that the answer is ordinary text: `feed` would return its input unchanged.
    pub fn is_passing_through(&self) -> bool {
        self.state == GuardState::PassThrough
    }

    /// Returns text to emit now (empty while undecided or holding).
    pub fn feed(&mut self, text: &str) -> String {
        match self.state {
            GuardState::PassThrough => text.to_owned(),
            GuardState::Holding => {
                self.held.push_str(text);
                String::new()
            }
            GuardState::Undecided => {
                self.held.push_str(text);
                let start = self.held.trim_start();
                if start.is_empty() {
                    return String::new();
                }
                let could_be_call = start.starts_with('{')
                    || start.starts_with('[')
                    || start.starts_with("```")
                    || "<tool_call>".starts_with(start)
                    || start.starts_with("<tool_call>");
                if could_be_call {
                    // A short prefix of "<tool_call>" or "```" may still turn out to be text.
                    let decided = start.len() >= "<tool_call>".len() || !start.starts_with('<');
                    if decided {
                        self.state = GuardState::Holding;
                    }
                    String::new()
                } else {
                    self.state = GuardState::PassThrough;
                    std::mem::take(&mut self.held)
                }
            }
        }
    }

    /// The held text, at the end of the stream (to be checked for tool calls).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(text: &str, piece: usize) -> Routed {
        let mut splitter = ThinkSplitter::default();
        let mut all = Routed::default();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece.max(1)) {
            let r = splitter.feed(&chunk.iter().collect::<String>());
            all.reasoning.push_str(&r.reasoning);
            all.content.push_str(&r.content);
        }
        let r = splitter.finish();
        all.reasoning.push_str(&r.reasoning);
        all.content.push_str(&r.content);
        all
    }

    #[test]
    fn think_tags_split_the_same_for_every_chunking() {
        let text = "  <think>\nLet me think é.\n</think>\n\nThe answer is <b>4</b>.";
        for piece in 1..text.len() {
            assert_eq!(
                split_all(text, piece),
                Routed {
                    reasoning: "Let me think é.".into(),
                    content: "The answer is <b>4</b>.".into()
                },
                "piece {piece}"
            );
        }
        assert_eq!(split_all("<thinking is fun", 3).content, "<thinking is fun");
        assert_eq!(split_all("<thi", 1).content, "<thi");
        assert_eq!(split_all("<think>unfinished", 4).reasoning, "unfinished");
    }

    fn scan_all(text: &str, stops: &[&str], piece: usize) -> (String, bool) {
        let mut scanner = StopScanner::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece.max(1)) {
            out.push_str(&scanner.feed(&chunk.iter().collect::<String>()));
        }
        out.push_str(&scanner.finish());
        (out, scanner.is_stopped())
    }

    #[test]
    fn stop_sequences_for_every_chunking() {
        for piece in 1..12 {
            assert_eq!(
                scan_all("one two ENDthree", &["END", "xx"], piece),
                ("one two ".into(), true)
            );
            assert_eq!(
                scan_all("one EN two E", &["END"], piece),
                ("one EN two E".into(), false)
            );
            assert_eq!(
                scan_all("héllo wörld", &["ö"], piece),
                ("héllo w".into(), true)
            );
        }
        assert_eq!(scan_all("abc", &[], 1), ("abc".into(), false));
    }

    fn guard_all(text: &str, piece: usize) -> (String, String) {
        let mut guard = LeakedCallGuard::default();
        let mut now = String::new();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece.max(1)) {
            now.push_str(&guard.feed(&chunk.iter().collect::<String>()));
        }
        (now, guard.finish())
    }

    #[test]
    fn leaked_call_guard_holds_only_call_like_answers() {
        for piece in 1..8 {
            assert_eq!(
                guard_all("Hello {there}", piece),
                ("Hello {there}".into(), String::new())
            );
            assert_eq!(
                guard_all(" {\"name\":\"f\"}", piece),
                (String::new(), " {\"name\":\"f\"}".into())
            );
            assert_eq!(guard_all("<tool_call>{}</tool_call>", piece).0, "");
            assert_eq!(
                guard_all("<b>bold</b>", piece),
                ("<b>bold</b>".into(), String::new())
            );
        }
    }
}
