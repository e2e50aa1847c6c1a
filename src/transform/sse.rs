//! Incremental Server-Sent Events decoding: bytes in, `data:` payloads out, the same payloads
//! however the bytes are split across network chunks.

/// A single SSE line longer than this is treated as a broken upstream, not buffered forever.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an upstream SSE line exceeded {MAX_LINE_BYTES} bytes")]
    LineTooLong,
}

/// Splits a byte stream into lines and hands every `data:` payload to a callback.
///
/// Each `data:` line is delivered on its own (Workers AI frames are one JSON document a line), so
/// a stream whose frames lack the blank separator line decodes the same. Comments (`: ping`),
/// blank lines and other fields (`event:`, `id:`, `retry:`) are skipped.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// The unfinished tail of the last chunk: only ever a part of one line.
    partial: Vec<u8>,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<(), SseError> {
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            let (line, rest) = bytes.split_at(newline);
            bytes = rest.get(1..).unwrap_or_default();
            if self.partial.is_empty() {
                dispatch_line(line, &mut on_data);
            } else {
                self.partial.extend_from_slice(line);
                let joined = std::mem::take(&mut self.partial);
                dispatch_line(&joined, &mut on_data);
                // Keep the allocation for the next partial line.
                self.partial = joined;
                self.partial.clear();
            }
        }
        if self.partial.len() + bytes.len() > MAX_LINE_BYTES {
            self.partial.clear();
            return Err(SseError::LineTooLong);
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    /// Delivers a final line that had no trailing newline.
    pub fn finish(&mut self, mut on_data: impl FnMut(&[u8])) {
        let line = std::mem::take(&mut self.partial);
        dispatch_line(&line, &mut on_data);
    }
}

fn dispatch_line(line: &[u8], on_data: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(value) = line.strip_prefix(b"data:") {
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if !value.is_empty() {
            on_data(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<Vec<u8>> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            decoder.feed(chunk, |d| out.push(d.to_vec())).unwrap();
        }
        decoder.finish(|d| out.push(d.to_vec()));
        out
    }

    #[test]
    fn same_payloads_for_every_split() {
        let input = b": ping\n\ndata: {\"response\":\"h\xc3\xa9\"}\r\n\r\nevent: x\ndata:{\"a\":1}\n\ndata: [DONE]\n\n";
        let whole = decode_in_pieces(input, input.len());
        assert_eq!(
            whole,
            vec![
                "{\"response\":\"h\u{e9}\"}".as_bytes().to_vec(),
                b"{\"a\":1}".to_vec(),
                b"[DONE]".to_vec()
            ]
        );
        for piece in 1..input.len() {
            assert_eq!(decode_in_pieces(input, piece), whole, "piece size {piece}");
        }
    }

    #[test]
    fn last_line_without_newline_is_kept() {
        assert_eq!(
            decode_in_pieces(b"data: [DONE]", 3),
            vec![b"[DONE]".to_vec()]
        );
    }

    #[test]
    fn runaway_lines_are_refused() {
        let mut decoder = SseDecoder::new();
        let big = vec![b'x'; MAX_LINE_BYTES + 1];
        assert_eq!(decoder.feed(&big, |_| {}), Err(SseError::LineTooLong));
    }
}
