//! A RESP3 frame reader over a byte buffer, just enough for the tracking
//! connection: replies in order and `>` push frames. The redis crate's own
//! parser sits behind its connection types; the cache needs to parse bytes
//! it read itself (see `mod.rs`, "drain before hit"), so it has its own.

/// One RESP3 frame. Attributes (`|`) are read and dropped: they annotate
/// the frame that follows and carry nothing the cache uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// `+`
    Simple(Vec<u8>),
    /// `-` and `!`
    Error(Vec<u8>),
    /// `:`
    Integer(i64),
    /// `$`, `=` (verbatim), `,` (double) and `(` (big number), as text
    Bulk(Vec<u8>),
    /// `_`, and RESP2's `$-1` and `*-1`
    Null,
    /// `#`
    Boolean(bool),
    /// `*` and `~` (set)
    Array(Vec<Frame>),
    /// `%`
    Map(Vec<(Frame, Frame)>),
    /// `>`: out of band, never the reply to a command
    Push(Vec<Frame>),
}

/// The bytes are not RESP: the connection cannot be trusted any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RESP3 from Redis: {0}")]
pub(crate) struct ProtocolError(&'static str);

impl ProtocolError {
    /// A well-formed frame where the protocol allows none of its kind.
    pub(crate) fn unexpected(what: &'static str) -> Self {
        Self(what)
    }
}

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;
/// Redis's own `proto-max-bulk-len` default.
const MAX_BULK: usize = 512 * 1024 * 1024;
/// Aggregates are read element by element; this only caps preallocation.
const MAX_PREALLOCATED: usize = 64;

/// Parses the first frame of `buffer`: `Ok(Some((frame, consumed)))`,
/// `Ok(None)` while the frame is still incomplete.
pub(crate) fn parse(buffer: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let mut reader = Reader { buffer, at: 0 };
    match reader.frame(0)? {
        Some(frame) => Ok(Some((frame, reader.at))),
        None => Ok(None),
    }
}

struct Reader<'a> {
    buffer: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// The next line without its CRLF, or `None` when it has not all arrived.
    fn line(&mut self) -> Result<Option<&[u8]>, ProtocolError> {
        let rest = &self.buffer[self.at..];
        let Some(end) = rest.windows(2).position(|pair| pair == b"\r\n") else {
            return Ok(None);
        };
        self.at += end + 2;
        Ok(Some(&rest[..end]))
    }

    fn frame(&mut self, depth: usize) -> Result<Option<Frame>, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(ProtocolError("nested too deep"));
        }
        let Some(&kind) = self.buffer.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        let frame = match kind {
            b'+' => Frame::Simple(line.to_vec()),
            b'-' => Frame::Error(line.to_vec()),
            b':' => Frame::Integer(number(line)?),
            b'_' => Frame::Null,
            b'#' => match line {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(ProtocolError("bad boolean")),
            },
            b',' | b'(' => Frame::Bulk(line.to_vec()),
            b'$' | b'=' | b'!' => {
                let length = number(line)?;
                if length < 0 {
                    return Ok(Some(Frame::Null));
                }
                let length = usize::try_from(length)
                    .ok()
                    .filter(|length| *length <= MAX_BULK)
                    .ok_or(ProtocolError("bulk too long"))?;
                let end = self.at + length;
                if self.buffer.len() < end + 2 {
                    return Ok(None);
                }
                if &self.buffer[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError("bulk not followed by CRLF"));
                }
                let body = self.buffer[self.at..end].to_vec();
                self.at = end + 2;
                if kind == b'!' {
                    Frame::Error(body)
                } else {
                    Frame::Bulk(body)
                }
            }
            b'*' | b'~' | b'>' => {
                let length = number(line)?;
                if length < 0 {
                    return Ok(Some(Frame::Null));
                }
                let Some(items) = self.items(length, depth)? else {
                    return Ok(None);
                };
                if kind == b'>' {
                    Frame::Push(items)
                } else {
                    Frame::Array(items)
                }
            }
            b'%' | b'|' => {
                let pairs = number(line)?;
                let Some(mut items) = self.items(pairs.saturating_mul(2), depth)? else {
                    return Ok(None);
                };
                if kind == b'|' {
                    // The attribute annotates the next frame: return that.
                    return self.frame(depth + 1);
                }
                let mut map = Vec::with_capacity(items.len() / 2);
                while let (Some(value), Some(key)) = (items.pop(), items.pop()) {
                    map.push((key, value));
                }
                map.reverse();
                Frame::Map(map)
            }
            _ => return Err(ProtocolError("unknown frame type")),
        };
        Ok(Some(frame))
    }

    fn items(&mut self, count: i64, depth: usize) -> Result<Option<Vec<Frame>>, ProtocolError> {
        let count = usize::try_from(count).map_err(|_| ProtocolError("bad aggregate length"))?;
        let mut items = Vec::with_capacity(count.min(MAX_PREALLOCATED));
        for _ in 0..count {
            match self.frame(depth + 1)? {
                Some(item) => items.push(item),
                None => return Ok(None),
            }
        }
        Ok(Some(items))
    }
}

fn number(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(ProtocolError("bad number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Frame {
        let (frame, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len(), "{frame:?}");
        frame
    }

    #[test]
    fn reads_every_scalar_kind() {
        assert_eq!(whole(b"+OK\r\n"), Frame::Simple(b"OK".to_vec()));
        assert_eq!(whole(b"-ERR no\r\n"), Frame::Error(b"ERR no".to_vec()));
        assert_eq!(whole(b":-42\r\n"), Frame::Integer(-42));
        assert_eq!(whole(b"_\r\n"), Frame::Null);
        assert_eq!(whole(b"$-1\r\n"), Frame::Null);
        assert_eq!(whole(b"*-1\r\n"), Frame::Null);
        assert_eq!(whole(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(whole(b",1.5\r\n"), Frame::Bulk(b"1.5".to_vec()));
        assert_eq!(whole(b"$3\r\na\r\n\r\n"), Frame::Bulk(b"a\r\n".to_vec()));
        assert_eq!(whole(b"$0\r\n\r\n"), Frame::Bulk(Vec::new()));
        assert_eq!(whole(b"!3\r\nERR\r\n"), Frame::Error(b"ERR".to_vec()));
        assert_eq!(
            whole(b"=8\r\ntxt:abcd\r\n"),
            Frame::Bulk(b"txt:abcd".to_vec())
        );
    }

    #[test]
    fn reads_an_invalidation_push_and_an_mget_reply() {
        let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\nk:sid\r\n";
        assert_eq!(
            whole(push),
            Frame::Push(vec![
                Frame::Bulk(b"invalidate".to_vec()),
                Frame::Array(vec![Frame::Bulk(b"k:sid".to_vec())]),
            ])
        );
        let flush = b">2\r\n$10\r\ninvalidate\r\n_\r\n";
        assert_eq!(
            whole(flush),
            Frame::Push(vec![Frame::Bulk(b"invalidate".to_vec()), Frame::Null])
        );
        // A token's two marks: the session's absent, the user's present.
        let mget = b"*2\r\n_\r\n$1\r\n1\r\n";
        assert_eq!(
            whole(mget),
            Frame::Array(vec![Frame::Null, Frame::Bulk(b"1".to_vec())])
        );
    }

    #[test]
    fn reads_a_hello_map_and_skips_attributes() {
        let hello = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n";
        assert_eq!(
            whole(hello),
            Frame::Map(vec![
                (
                    Frame::Bulk(b"server".to_vec()),
                    Frame::Bulk(b"redis".to_vec())
                ),
                (Frame::Bulk(b"proto".to_vec()), Frame::Integer(3)),
            ])
        );
        assert_eq!(
            whole(b"|1\r\n+a\r\n:1\r\n+OK\r\n"),
            Frame::Simple(b"OK".to_vec())
        );
    }

    #[test]
    fn an_incomplete_frame_is_none_at_every_cut() {
        let stream: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nabc\r\n$2\r\nde\r\n";
        for cut in 0..stream.len() {
            assert_eq!(parse(&stream[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse(stream).unwrap().is_some());
    }

    #[test]
    fn frames_are_read_one_at_a_time() {
        let stream = b"+PONG\r\n:1\r\n";
        let (first, used) = parse(stream).unwrap().unwrap();
        assert_eq!(first, Frame::Simple(b"PONG".to_vec()));
        assert_eq!(whole(&stream[used..]), Frame::Integer(1));
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"?x\r\n"[..],
            b":x\r\n",
            b"$2\r\nabcd\r\n",
            b"#x\r\n",
            b"$-0x\r\n",
            b"*-2x\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
