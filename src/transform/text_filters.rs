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

/// Applies OpenAI `stop` sequences to streamed text for models that lack the parameter: the
/// answer ends where the earliest stop sequence begins in the whole text, as `first_stop` cuts
/// a whole answer, however the text is split.
#[derive(Debug, Default)]
pub struct StopScanner {
    stops: Vec<String>,
    /// Text not yet emitted: a tail that may begin a stop sequence (shorter than the longest).
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

    /// The text that is safe to emit now (borrowed unless text was held from an earlier call).
    pub fn feed<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        if self.stopped {
            return Cow::Borrowed("");
        }
        if self.stops.is_empty() {
            return Cow::Borrowed(text);
        }
        if self.pending.is_empty() {
            let emit = self.settle(text);
            if !self.stopped {
                self.pending.push_str(&text[emit..]);
            }
            return Cow::Borrowed(&text[..emit]);
        }
        self.pending.push_str(text);
        let mut emit = std::mem::take(&mut self.pending);
        let len = self.settle(&emit);
        if !self.stopped {
            self.pending.push_str(&emit[len..]);
        }
        emit.truncate(len);
        Cow::Owned(emit)
    }

    /// How much of `text` (all that is not yet emitted) can be emitted now; sets `stopped` when
    /// the answer ends there. Otherwise the rest may begin a stop sequence, and is held.
    fn settle(&mut self, text: &str) -> usize {
        // The earliest place where a stop sequence may begin but has not fully arrived.
        let open = text.len()
            - self
                .stops
                .iter()
                .map(|stop| partial_suffix(text, stop))
                .max()
                .unwrap_or(0);
        match super::chat::first_stop(text, &self.stops) {
            // Nothing can begin before it any more: it ends the answer.
            Some(cut) if cut <= open => {
                self.stopped = true;
                cut
            }
            // A stop found after an open one waits: if the open one completes (`bc` inside
            // `abcd`), it begins first and cuts there. Either way the held text is short.
            _ => open,
        }
    }

    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        let mut rest = std::mem::take(&mut self.pending);
        // A stop held behind an open one that never completed still ends the answer.
        if let Some(cut) = super::chat::first_stop(&rest, &self.stops) {
            rest.truncate(cut);
            self.stopped = true;
        }
        rest
    }
}

/// Decides, from the start of an answer, whether it may be a tool call written as text (a JSON
/// object or list, a Markdown fence, or a `<tool_call>` tag). Such an answer is held to the end
/// and parsed; anything else streams through untouched.
#[derive(Debug, Default)]
pub struct LeakedCallGuard {
    state: GuardState,
    held: String,
}

/// How an answer that is a tool call written as text begins (after whitespace): bare JSON, a
/// list, a Markdown fence, a Hermes tag.
const CALL_STARTS: [&str; 4] = ["{", "[", "```", "<tool_call>"];

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
                if CALL_STARTS.iter().any(|call| start.starts_with(call)) {
                    self.state = GuardState::Holding;
                    String::new()
                } else if CALL_STARTS.iter().any(|call| call.starts_with(start)) {
                    // Nothing yet, or a piece of a start ("`", "<tool") that may still become
                    // one: wait, so the decision does not depend on where tokens split.
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

    /// Every way to cut `text` into tokens at character boundaries (keep `text` short).
    fn every_split(text: &str) -> Vec<Vec<&str>> {
        let bounds: Vec<usize> = text.char_indices().skip(1).map(|(i, _)| i).collect();
        (0u32..1 << bounds.len())
            .map(|mask| {
                let mut pieces = Vec::new();
                let mut start = 0;
                for (bit, &at) in bounds.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        pieces.push(&text[start..at]);
                        start = at;
                    }
                }
                pieces.push(&text[start..]);
                pieces
            })
            .collect()
    }

    fn scan_pieces(pieces: &[&str], stops: &[&str]) -> (String, bool) {
        let mut scanner = StopScanner::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for piece in pieces {
            out.push_str(&scanner.feed(piece));
        }
        out.push_str(&scanner.finish());
        (out, scanner.is_stopped())
    }

    #[test]
    fn overlapping_stop_sequences_cut_where_the_earliest_begins() {
        // Split "abc" + "d", the old scanner cut at "bc" (1) once it completed; "abcd" begins at 0.
        let stops = ["abcd", "bc"];
        assert_eq!(scan_pieces(&["abcd"], &stops), ("".into(), true));
        assert_eq!(scan_pieces(&["abc", "d"], &stops), ("".into(), true));
        assert_eq!(scan_pieces(&["xab", "cd", "y"], &stops), ("x".into(), true));
        // "abcd" never completes: "bc", held behind it, still cuts (at the end, or later).
        assert_eq!(scan_pieces(&["abc"], &stops), ("a".into(), true));
        assert_eq!(scan_pieces(&["ab", "c", "x"], &stops), ("a".into(), true));
        // One stop the suffix or prefix of another.
        assert_eq!(scan_pieces(&["EN", "D"], &["END", "D"]), ("".into(), true));
        assert_eq!(
            scan_pieces(&["1 <", "/s", ">"], &["</s>", "s"]),
            ("1 ".into(), true)
        );
        assert_eq!(scan_pieces(&["ab", "c"], &["abc", "ab"]), ("".into(), true));
        assert_eq!(
            scan_pieces(&["é🦀", "x"], &["é🦀x", "🦀"]),
            ("".into(), true)
        );
    }

    #[test]
    fn stop_sequences_cut_as_first_stop_does_for_every_split() {
        let stop_sets: &[&[&str]] = &[
            &["abcd", "bc"],
            &["ab", "bc"],
            &["abab", "ba"],
            &["aba"],
            &["b", "abcd", "cd"],
            &["bcd", "abc", "d"],
            &["aa", "a"],
        ];
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| "abcd".chars().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        texts.sort();
        texts.dedup();
        for stops in stop_sets {
            let owned: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
            for text in &texts {
                // The non-streamed answer is cut by `first_stop`: the stream must agree.
                let cut = super::super::chat::first_stop(text, &owned);
                let expected = (text[..cut.unwrap_or(text.len())].to_owned(), cut.is_some());
                for pieces in every_split(text) {
                    assert_eq!(
                        scan_pieces(&pieces, stops),
                        expected,
                        "{stops:?} {pieces:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn stop_scanner_holds_only_a_possible_stop() {
        let mut scanner = StopScanner::new(vec!["abcd".into(), "bc".into()]);
        assert_eq!(scanner.feed("plain text"), "plain text");
        assert!(matches!(scanner.feed("more"), Cow::Borrowed("more")));
        assert_eq!(scanner.feed("xyzab"), "xyz");
        assert_eq!(scanner.pending, "ab");
        assert_eq!(scanner.feed("c"), "");
        assert_eq!(scanner.pending, "abc");
        assert_eq!(scanner.feed("e"), "a");
        assert!(scanner.is_stopped() && scanner.pending.is_empty());
        assert_eq!(scanner.feed("more"), "");
    }

    fn guard_pieces(pieces: &[&str]) -> (String, String) {
        let mut guard = LeakedCallGuard::default();
        let mut now = String::new();
        for piece in pieces {
            now.push_str(&guard.feed(piece));
        }
        (now, guard.finish())
    }

    #[test]
    fn a_fence_is_held_whatever_the_first_tokens() {
        let call = "```json\n{\"name\": \"get_weather\", \"arguments\": {}}\n```";
        let held = (String::new(), call.to_owned());
        // One backtick first used to pass the whole answer through as text.
        assert_eq!(guard_pieces(&["`", &call[1..]]), held);
        assert_eq!(guard_pieces(&["``", &call[2..]]), held);
        assert_eq!(guard_pieces(&["`", "`", "`", &call[3..]]), held);
        assert_eq!(guard_pieces(&[" \n`", &call[1..]]).1, format!(" \n{call}"));
        for at in (0..=call.len()).filter(|&at| call.is_char_boundary(at)) {
            assert_eq!(guard_pieces(&[&call[..at], &call[at..]]), held, "at {at}");
        }
        // Backticks that turn out to be text are released once that is certain.
        assert_eq!(guard_pieces(&["`", "x`"]), ("`x`".into(), String::new()));
        assert_eq!(guard_pieces(&["``", " a"]), ("`` a".into(), String::new()));
        assert_eq!(guard_pieces(&["``"]), (String::new(), "``".into()));
    }

    #[test]
    fn leaked_call_guard_decides_the_same_for_every_split() {
        for text in [
            "```",
            "``x`",
            " `a`",
            "``` {}",
            "<tool_call>",
            "<tool x",
            "<t>`",
            " [1]",
            "`{}`",
            "é`🦀",
        ] {
            let whole = guard_pieces(&[text]);
            for pieces in every_split(text) {
                assert_eq!(guard_pieces(&pieces), whole, "{pieces:?}");
            }
        }
    }
}
