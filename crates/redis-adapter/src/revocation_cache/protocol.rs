//! The tracking connection's wire format: RESP3 frames are decoded by
//! `redis-protocol` (the codec under fred), commands are packed by the
//! redis crate. The redis crate's own parser sits behind its connection
//! types; the cache parses bytes it read itself (see `mod.rs`, "drain
//! before hit"), so it needs a decoder that says how many bytes a frame
//! took and answers `None` for a partial one. This file reads only the
//! shapes the cache relies on.

use deadpool_redis::redis::{self, RedisError};
use redis_protocol::error::RedisProtocolError;
use redis_protocol::resp3::decode::complete::decode;
use redis_protocol::resp3::types::{OwnedFrame, Resp3Frame};

/// The bytes are not what Redis sends: the connection cannot be trusted
/// any more.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProtocolError {
    #[error("malformed RESP3 from Redis")]
    Malformed(#[source] RedisProtocolError),
    #[error("unexpected RESP3 from Redis: {0}")]
    Unexpected(&'static str),
}

/// One complete frame, as the cache reads it.
#[derive(Debug, PartialEq)]
pub(super) enum Incoming {
    /// Redis announced a change of these keys.
    Invalidate(Vec<Vec<u8>>),
    /// Redis announced a flush: every key changed.
    InvalidateAll,
    /// A push about anything else: nothing cached depends on it.
    OtherPush,
    /// The reply to the oldest request (out-of-band frames aside, Redis
    /// replies in the order requests were written).
    Reply(OwnedFrame),
}

/// The first frame of `buffer` and how many bytes it took, or `None`
/// while the frame is still incomplete.
pub(super) fn next_frame(buffer: &[u8]) -> Result<Option<(Incoming, usize)>, ProtocolError> {
    let Some((frame, used)) = decode(buffer).map_err(ProtocolError::Malformed)? else {
        return Ok(None);
    };
    Ok(Some((classify(frame), used)))
}

fn classify(frame: OwnedFrame) -> Incoming {
    let OwnedFrame::Push { data, .. } = frame else {
        return Incoming::Reply(frame);
    };
    let mut items = data.into_iter();
    if items.next().as_ref().and_then(Resp3Frame::as_bytes) != Some(b"invalidate".as_slice()) {
        return Incoming::OtherPush;
    }
    match items.next() {
        Some(OwnedFrame::Array { data: keys, .. }) => Incoming::Invalidate(
            keys.into_iter()
                .filter_map(|key| match key {
                    OwnedFrame::BlobString { data, .. } | OwnedFrame::SimpleString { data, .. } => {
                        Some(data)
                    }
                    _ => None,
                })
                .collect(),
        ),
        // A null key list: the databases were flushed.
        _ => Incoming::InvalidateAll,
    }
}

/// What a reply to an `MGET` of `keys` keys says: whether each is
/// present, or the error Redis answered with instead.
pub(super) fn mget_reply(
    frame: OwnedFrame,
    keys: usize,
) -> Result<Result<Vec<bool>, RedisError>, ProtocolError> {
    if let Some(error) = server_error(&frame) {
        return Ok(Err(error));
    }
    match frame {
        OwnedFrame::Array { data, .. } if data.len() == keys => Ok(Ok(data
            .iter()
            .map(|value| *value != OwnedFrame::Null)
            .collect())),
        _ => Err(ProtocolError::Unexpected(
            "a reply to MGET that is no array of its keys",
        )),
    }
}

/// The error a frame carries, if it is one (`-` or `!`), with its code
/// and detail apart, as the redis crate reports server errors.
pub(super) fn server_error(frame: &OwnedFrame) -> Option<RedisError> {
    let text = match frame {
        OwnedFrame::SimpleError { data, .. } => data.clone(),
        OwnedFrame::BlobError { data, .. } => String::from_utf8_lossy(data).into_owned(),
        _ => return None,
    };
    let (code, detail) = match text.split_once(' ') {
        Some((code, detail)) => (code.to_owned(), Some(detail.to_owned())),
        None => (text, None),
    };
    Some(redis::make_extension_error(code, detail))
}

/// Appends `MGET` of a token's two marks.
pub(super) fn write_mget(out: &mut Vec<u8>, keys: [&str; 2]) {
    redis::cmd("MGET")
        .arg(keys[0])
        .arg(keys[1])
        .write_packed_command(out);
}

/// Appends `PING`.
pub(super) fn write_ping(out: &mut Vec<u8>) {
    redis::cmd("PING").write_packed_command(out);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    /// The one frame `bytes` holds, which must take all of them.
    fn whole(bytes: &[u8]) -> Incoming {
        let (frame, used) = next_frame(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len(), "{frame:?}");
        frame
    }

    fn reply(bytes: &[u8]) -> OwnedFrame {
        match whole(bytes) {
            Incoming::Reply(frame) => frame,
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn reads_every_scalar_kind_as_one_reply() {
        for scalar in [
            &b"+OK\r\n"[..],
            b":-42\r\n",
            b"_\r\n",
            b"#t\r\n",
            b",1.5\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
            b"$3\r\na\r\n\r\n",
            b"$0\r\n\r\n",
            b"=8\r\ntxt:abcd\r\n",
        ] {
            reply(scalar);
        }
        assert_eq!(reply(b"_\r\n"), OwnedFrame::Null);
        assert_eq!(reply(b"$3\r\na\r\n\r\n").as_bytes(), Some(&b"a\r\n"[..]));
    }

    #[test]
    fn error_replies_keep_their_code_and_detail() {
        let simple = server_error(&reply(b"-LOADING Redis is loading\r\n")).unwrap();
        assert_eq!(simple.code(), Some("LOADING"));
        assert_eq!(simple.detail(), Some("Redis is loading"));
        let blob = server_error(&reply(b"!3\r\nERR\r\n")).unwrap();
        assert_eq!((blob.code(), blob.detail()), (Some("ERR"), None));
        assert!(server_error(&reply(b"+OK\r\n")).is_none());
    }

    #[test]
    fn reads_an_invalidation_push_and_an_mget_reply() {
        let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\nk:sid\r\n";
        assert_eq!(whole(push), Incoming::Invalidate(vec![b"k:sid".to_vec()]));
        let flush = b">2\r\n$10\r\ninvalidate\r\n_\r\n";
        assert_eq!(whole(flush), Incoming::InvalidateAll);
        let other = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n";
        assert_eq!(whole(other), Incoming::OtherPush);
        // A token's two marks: the session's absent, the user's present.
        let mget = reply(b"*2\r\n_\r\n$1\r\n1\r\n");
        assert_eq!(mget_reply(mget, 2).unwrap().unwrap(), vec![false, true]);
    }

    #[test]
    fn an_mget_reply_of_the_wrong_shape_is_a_protocol_error() {
        assert!(mget_reply(reply(b"*1\r\n_\r\n"), 2).is_err());
        assert!(mget_reply(reply(b"+PONG\r\n"), 2).is_err());
        let refused = mget_reply(reply(b"-LOADING busy\r\n"), 2).unwrap();
        assert_eq!(refused.unwrap_err().code(), Some("LOADING"));
    }

    #[test]
    fn reads_a_hello_map_and_skips_attributes() {
        let hello = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n";
        assert!(matches!(reply(hello), OwnedFrame::Map { .. }));
        let annotated = reply(b"|1\r\n+a\r\n:1\r\n+OK\r\n");
        assert_eq!(annotated.as_bytes(), Some(&b"OK"[..]));
    }

    #[test]
    fn an_incomplete_frame_is_none_at_every_cut() {
        let stream: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nabc\r\n$2\r\nde\r\n";
        for cut in 0..stream.len() {
            assert!(
                next_frame(&stream[..cut]).unwrap().is_none(),
                "cut at {cut}"
            );
        }
        assert!(next_frame(stream).unwrap().is_some());
    }

    #[test]
    fn frames_are_read_one_at_a_time() {
        let stream = b"+PONG\r\n:1\r\n";
        let (first, used) = next_frame(stream).unwrap().unwrap();
        assert_eq!(first, Incoming::Reply(reply(b"+PONG\r\n")));
        assert_eq!(whole(&stream[used..]), Incoming::Reply(reply(b":1\r\n")));
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"?x\r\n"[..],
            b":x\r\n",
            b"#x\r\n",
            b"$-0x\r\n",
            b"*-2x\r\n",
            // A streamed string: Redis never sends one to a client.
            b"$?\r\n;4\r\nHell\r\n;0\r\n",
        ] {
            assert!(next_frame(bad).is_err(), "{bad:?}");
        }
        // A blob's length is trusted and its terminator skipped unread:
        // bytes out of step are caught at the next frame.
        let bad = b"$2\r\nabcd\r\n";
        let (_, used) = next_frame(bad).unwrap().unwrap();
        assert!(next_frame(&bad[used..]).is_err());
    }

    #[test]
    fn resp2_nulls_are_refused_not_misread() {
        // HELLO 3 makes every null `_`. RESP2's `$-1` and `*-1` read as
        // the headers of streamed frames, which this decoder refuses: the
        // connection would be given up, and reads go to Redis directly.
        assert!(next_frame(b"$-1\r\n").is_err());
        assert!(next_frame(b"*-1\r\n").is_err());
    }

    #[test]
    fn commands_are_packed_as_resp_arrays() {
        let mut out = Vec::new();
        write_ping(&mut out);
        write_mget(&mut out, ["a b", "c"]);
        assert_eq!(
            out,
            b"*1\r\n$4\r\nPING\r\n*3\r\n$4\r\nMGET\r\n$3\r\na b\r\n$1\r\nc\r\n"
        );
    }
}
