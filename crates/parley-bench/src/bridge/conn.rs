//! One socket of the load generator: its unsent output and an incomplete message left
//! over from the last read. Both stay empty (unallocated) in the usual case, where each
//! message goes out in one `write` and arrives whole in one `read`.
use super::ws::{self, Side};
use mio::net::TcpStream;
use std::io::{self, ErrorKind, Read, Write};

pub struct Conn {
    pub stream: TcpStream,
    /// Bytes the socket would not take yet; sent when it becomes writable.
    pending: Vec<u8>,
    /// The start of a message whose rest has not arrived.
    carry: Vec<u8>,
}

/// What a read found.
pub enum Got {
    /// `len` bytes are at the start of the buffer, the carried-over ones first; with
    /// `more`, the read filled the buffer and the socket may hold more.
    Data { len: usize, more: bool },
    /// Nothing more until the next readiness event.
    Nothing,
    /// The peer closed the connection.
    Closed,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            pending: Vec::new(),
            carry: Vec::new(),
        }
    }

    /// Frames the message in `out` (see [`ws::begin`]) and sends it; `out` is left empty.
    pub fn send_frame(&mut self, out: &mut Vec<u8>, opcode: u8, side: Side) -> io::Result<()> {
        let start = ws::finish(out, opcode, side);
        let sent = self.send_raw(&out[start..]);
        out.clear();
        sent
    }

    /// Sends bytes as they are, after any still pending.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(bytes);
            return Ok(());
        }
        let mut written = 0;
        while written < bytes.len() {
            match self.stream.write(&bytes[written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.extend_from_slice(&bytes[written..]);
        Ok(())
    }

    /// Sends what is pending, as far as the socket takes it.
    pub fn flush(&mut self) -> io::Result<()> {
        let mut written = 0;
        while written < self.pending.len() {
            match self.stream.write(&self.pending[written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.drain(..written);
        Ok(())
    }

    /// Reads once into `buf`, after the carried-over start of a message.
    ///
    /// The sockets are edge-triggered: a read that does not fill the space it was given
    /// emptied the socket, and any later data raises a new event, so the usual message
    /// costs one `read` and no second one that would only say "would block".
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Got> {
        let carried = self.carry.len();
        buf[..carried].copy_from_slice(&self.carry);
        self.carry.clear();
        let space = buf.len() - carried;
        loop {
            return match self.stream.read(&mut buf[carried..]) {
                Ok(0) => Ok(Got::Closed),
                Ok(n) => Ok(Got::Data {
                    len: carried + n,
                    more: n == space,
                }),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.carry.extend_from_slice(&buf[..carried]);
                    Ok(Got::Nothing)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Keeps the unread end of `buf` (an incomplete message) for the next read.
    pub fn keep(&mut self, rest: &[u8]) {
        self.carry.extend_from_slice(rest);
    }
}
