//! The tracking connection's bytes, in the clear or under TLS. The cache
//! reads its socket itself (see `mod.rs`, "drain before hit"), so TLS is
//! rustls's synchronous `ClientConnection` over the bytes it drained:
//! `read_tls` takes what the socket held, `process_new_packets` decrypts,
//! and the plaintext is parsed as before; writes are sealed the same way.
//!
//! A push may sit in a TLS record that has only partly arrived: rustls
//! keeps such a record to itself, so the transport tracks the record
//! boundaries of what it was fed (each record's 5-byte header is in the
//! clear) and a hit is served only at a boundary, as it is only without a
//! partial RESP frame.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use tokio::net::TcpStream;

pub(super) enum Transport {
    Plain,
    Tls(Box<Tls>),
}

pub(super) struct Tls {
    connection: ClientConnection,
    records: RecordBoundary,
}

impl Transport {
    pub(super) fn tls(config: Arc<ClientConfig>, name: ServerName<'static>) -> io::Result<Self> {
        let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Self::Tls(Box::new(Tls {
            connection,
            records: RecordBoundary::default(),
        })))
    }

    /// Takes bytes read from the socket; appends what they carry to `plain`.
    pub(super) fn receive(&mut self, raw: &[u8], plain: &mut Vec<u8>) -> io::Result<()> {
        let Self::Tls(tls) = self else {
            plain.extend_from_slice(raw);
            return Ok(());
        };
        tls.records.feed(raw);
        let mut rest = raw;
        while !rest.is_empty() {
            tls.connection.read_tls(&mut rest)?;
            let state = tls
                .connection
                .process_new_packets()
                .map_err(io::Error::other)?;
            let mut readable = state.plaintext_bytes_to_read();
            let start = plain.len();
            plain.resize(start + readable, 0);
            let mut at = start;
            while readable > 0 {
                let count = tls.connection.reader().read(&mut plain[at..])?;
                if count == 0 {
                    break;
                }
                at += count;
                readable -= count;
            }
            plain.truncate(at);
            if state.peer_has_closed() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// Seals `plain` (and anything TLS itself has to send) for the socket.
    pub(super) fn seal(&mut self, plain: &[u8], raw: &mut Vec<u8>) -> io::Result<()> {
        let Self::Tls(tls) = self else {
            raw.extend_from_slice(plain);
            return Ok(());
        };
        if !plain.is_empty() {
            tls.connection.writer().write_all(plain)?;
        }
        while tls.connection.wants_write() {
            tls.connection.write_tls(raw)?;
        }
        Ok(())
    }

    /// Whether TLS has bytes of its own to send (a key update, say).
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Self::Plain => false,
            Self::Tls(tls) => tls.connection.wants_write(),
        }
    }

    /// Whether every byte received so far was decrypted: no record is
    /// halfway in.
    pub(super) fn at_record_boundary(&self) -> bool {
        match self {
            Self::Plain => true,
            Self::Tls(tls) => tls.records.at_boundary(),
        }
    }

    /// Runs the TLS handshake on `socket` (nothing for a plain one).
    pub(super) async fn handshake(&mut self, socket: &TcpStream) -> io::Result<()> {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let Self::Tls(tls) = self else {
                return Ok(());
            };
            if tls.connection.wants_write() {
                let mut raw = Vec::new();
                self.seal(&[], &mut raw)?;
                write_all(socket, &raw).await?;
                continue;
            }
            if !tls.connection.is_handshaking() {
                return Ok(());
            }
            socket.readable().await?;
            match socket.try_read(&mut buffer) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(count) => {
                    // A server sends no data before the client's request.
                    let mut plain = Vec::new();
                    self.receive(&buffer[..count], &mut plain)?;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// Writes all of `bytes`, waiting for the socket as needed.
pub(super) async fn write_all(socket: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_write(bytes) {
            Ok(count) => bytes = &bytes[count..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Where the TLS record stream stands: within a record's header, within
/// its body, or between records.
#[derive(Default)]
struct RecordBoundary {
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

impl RecordBoundary {
    fn feed(&mut self, mut raw: &[u8]) {
        while !raw.is_empty() {
            if self.body_left > 0 {
                let count = self.body_left.min(raw.len());
                self.body_left -= count;
                raw = &raw[count..];
                continue;
            }
            let count = (5 - self.header_len).min(raw.len());
            self.header[self.header_len..self.header_len + count].copy_from_slice(&raw[..count]);
            self.header_len += count;
            raw = &raw[count..];
            if self.header_len == 5 {
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.header_len = 0;
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.body_left == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    #[test]
    fn record_boundaries_are_followed_at_every_cut() {
        // Two records: 3 body bytes, then 0.
        let stream = [23, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 0];
        for cut in 0..=stream.len() {
            let mut records = RecordBoundary::default();
            records.feed(&stream[..cut]);
            let expected = matches!(cut, 0 | 8 | 13);
            assert_eq!(records.at_boundary(), expected, "cut at {cut}");
            records.feed(&stream[cut..]);
            assert!(records.at_boundary(), "cut at {cut}");
        }
    }

    #[test]
    fn plain_bytes_pass_through() {
        let mut transport = Transport::Plain;
        let (mut plain, mut raw) = (Vec::new(), Vec::new());
        transport.receive(b"+OK\r\n", &mut plain).unwrap();
        transport.seal(b"PING", &mut raw).unwrap();
        assert_eq!(
            (plain.as_slice(), raw.as_slice()),
            (&b"+OK\r\n"[..], &b"PING"[..])
        );
        assert!(transport.at_record_boundary() && !transport.wants_write());
    }
}
