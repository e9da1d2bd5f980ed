//! The load generator's one thread: every socket of both simulated sides on one
//! edge-triggered `epoll` (mio), one clock tick per millisecond, and buffers shared by
//! all connections, so that a frame costs its system calls and little else.
//!
//! The clock: calls are spread over [`FRAME_GROUPS`] groups by number, and each tick
//! sends the frames of one group, so frames leave in small bursts instead of one burst
//! per 20 ms (a burst of 900 sends would itself delay echoes by milliseconds).
//! Conversations are likewise spread over [`PING_GROUPS`] groups, one pinged every 20 ms.
//! Late ticks are made up at once: a 20 ms frame clock must keep its rate.
use super::agent::{AgentConn, Became};
use super::conn::{Conn, Got};
use super::stats::Stats;
use super::twilio_side::{Call, CallEnd, StreamAuth, Target};
use super::{Clock, Ctx, Phase};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::time::{Duration, Instant};

const FRAME_GROUPS: u64 = 20;
const TICK: Duration = Duration::from_millis(1);
/// Every conversation is pinged every 2 s: 100 groups, one per 20 ms.
const PING_GROUPS: usize = 100;
const TICKS_PER_PING_GROUP: u64 = 20;
/// One read takes at most this much; anything here is far smaller.
const READ_BUFFER: usize = 64 * 1024;
const LISTENER: Token = Token(usize::MAX);

/// A socket of the run: a simulated call (tokens below the number of calls, by call
/// number) or a connection to the simulated agent (after them).
enum Slot {
    Call(Box<Call>),
    Agent(Box<AgentConn>),
}

pub struct EventLoop {
    poll: Poll,
    events: Events,
    /// The last poll's events, copied out so that handling them may borrow `self`.
    ready: Vec<(Token, bool, bool)>,
    listener: TcpListener,
    target: Target,
    /// Calls not yet started, in the order they start.
    to_start: std::vec::IntoIter<StreamAuth>,
    started: usize,
    ramp_start: Instant,
    spacing: Duration,
    /// Sockets by token; a closed one leaves `None` (tokens are never reused).
    slots: Vec<Option<Slot>>,
    /// Calls not yet ended.
    pub open_calls: usize,
    ping_groups: Vec<Vec<usize>>,
    next_ping_group: usize,
    conversations: u64,
    tick: u64,
    next_tick: Instant,
    phase: Phase,
    clock: Clock,
    pub stats: Stats,
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

impl EventLoop {
    /// `streams` are the calls to make, started evenly over `ramp` once [`run_until`]
    /// first runs.
    pub fn new(
        listener: std::net::TcpListener,
        target: Target,
        streams: Vec<StreamAuth>,
        ramp: Duration,
        clock: Clock,
    ) -> io::Result<EventLoop> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let calls = streams.len();
        let now = Instant::now();
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            listener,
            target,
            to_start: streams.into_iter(),
            started: 0,
            ramp_start: now,
            spacing: ramp / calls.max(1) as u32,
            slots: (0..calls).map(|_| None).collect(),
            open_calls: 0,
            ping_groups: vec![Vec::new(); PING_GROUPS],
            next_ping_group: 0,
            conversations: 0,
            tick: 0,
            next_tick: now,
            phase: Phase::Connecting,
            clock,
            stats: Stats::new(calls),
            inbuf: vec![0; READ_BUFFER],
            out: Vec::with_capacity(4096),
        })
    }

    /// Ends the measured window: no more frames.
    pub fn stop_streaming(&mut self) {
        self.phase = Phase::Draining;
    }

    /// Every call has been started and has either been established or failed.
    pub fn all_settled(&self) -> bool {
        self.to_start.len() == 0 && self.stats.established + self.stats.failed >= self.started
    }

    /// Restarts the ramp's clock (the calls start from now).
    pub fn begin_ramp(&mut self) {
        self.ramp_start = Instant::now();
        self.next_tick = self.ramp_start;
    }

    /// Starts the measured window. Ticks the loop still owes from before are skipped,
    /// so that every frame sent belongs to the window.
    pub fn start_streaming(&mut self) {
        self.phase = Phase::Streaming;
        self.next_tick = self.next_tick.max(Instant::now());
    }

    /// Serves every socket until `done` holds or `deadline` passes.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&EventLoop) -> bool,
    ) -> io::Result<()> {
        loop {
            let now = Instant::now();
            self.start_due_calls(now);
            while self.next_tick <= now {
                if self.phase == Phase::Streaming {
                    let lag = now - self.next_tick;
                    self.stats.tick_lag.record(lag.as_nanos() as u64);
                }
                self.on_tick();
                self.next_tick += TICK;
            }
            if done(self) || now >= deadline {
                return Ok(());
            }
            let mut wake = self.next_tick.min(deadline);
            if self.to_start.len() > 0 {
                wake = wake.min(self.ramp_start + self.spacing * self.started as u32);
            }
            match self.poll.poll(&mut self.events, Some(wake - now)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.ready.clear();
            self.ready.extend(self.events.iter().map(|event| {
                (
                    event.token(),
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable(),
                )
            }));
            for i in 0..self.ready.len() {
                let (token, readable, writable) = self.ready[i];
                self.on_event(token, readable, writable)?;
            }
        }
    }

    fn start_due_calls(&mut self, now: Instant) {
        while self.to_start.len() > 0 && self.ramp_start + self.spacing * self.started as u32 <= now
        {
            let auth = self.to_start.next().expect("a call is left");
            let index = self.started;
            self.started += 1;
            let connected = Call::connect(index, auth, &self.target).and_then(|mut call| {
                self.poll
                    .registry()
                    .register(
                        &mut call.conn.stream,
                        Token(index),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .map_err(super::twilio_side::CallError::Connect)?;
                Ok(call)
            });
            match connected {
                Ok(call) => {
                    self.slots[index] = Some(Slot::Call(Box::new(call)));
                    self.open_calls += 1;
                }
                Err(e) => self.stats.failed_call(index, &e.to_string()),
            }
        }
    }

    fn on_tick(&mut self) {
        let tick = self.tick;
        self.tick += 1;
        if self.phase == Phase::Streaming {
            let calls = self.stats.calls();
            let group = (tick % FRAME_GROUPS) as usize;
            for index in (group..calls).step_by(FRAME_GROUPS as usize) {
                let mut ctx = Ctx {
                    stats: &mut self.stats,
                    out: &mut self.out,
                    clock: &self.clock,
                };
                if let Some(Some(Slot::Call(call))) = self.slots.get_mut(index) {
                    if let Err(end) = call.send_frame(&mut ctx) {
                        self.end_call(index, end);
                    }
                }
            }
        }
        if tick % TICKS_PER_PING_GROUP == 0 {
            let group = self.next_ping_group;
            self.next_ping_group = (group + 1) % PING_GROUPS;
            let mut members = std::mem::take(&mut self.ping_groups[group]);
            members.retain(|&token| {
                let Some(Some(Slot::Agent(agent))) = self.slots.get_mut(token) else {
                    return false;
                };
                let mut ctx = Ctx {
                    stats: &mut self.stats,
                    out: &mut self.out,
                    clock: &self.clock,
                };
                if agent.ping(&mut ctx).is_err() {
                    self.slots[token] = None;
                    return false;
                }
                true
            });
            self.ping_groups[group] = members;
        }
    }

    fn on_event(&mut self, token: Token, readable: bool, writable: bool) -> io::Result<()> {
        if token == LISTENER {
            return self.accept();
        }
        let index = token.0;
        if writable {
            let flushed = match self.slots.get_mut(index) {
                Some(Some(Slot::Call(call))) => call.on_writable(&self.target).err(),
                Some(Some(Slot::Agent(agent))) => {
                    if agent.conn.flush().is_err() {
                        self.slots[index] = None;
                    }
                    None
                }
                _ => None,
            };
            if let Some(end) = flushed {
                self.end_call(index, end);
            }
        }
        if readable {
            self.read(index);
        }
        Ok(())
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            stream.set_nodelay(true)?;
            let token = self.slots.len();
            self.poll.registry().register(
                &mut stream,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            self.slots
                .push(Some(Slot::Agent(Box::new(AgentConn::new(Conn::new(
                    stream,
                ))))));
        }
    }

    /// Reads what a socket has and handles every complete message in it.
    fn read(&mut self, index: usize) {
        loop {
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                return;
            };
            let conn = match slot {
                Slot::Call(call) => &mut call.conn,
                Slot::Agent(agent) => &mut agent.conn,
            };
            let (len, more) = match conn.read(&mut self.inbuf) {
                Ok(Got::Data { len, more }) => (len, more),
                Ok(Got::Nothing) => return,
                Ok(Got::Closed) => {
                    self.closed(index);
                    return;
                }
                Err(e) => {
                    match slot {
                        Slot::Call(_) => self.end_call(index, CallEnd::Failed(e.into())),
                        Slot::Agent(_) => self.slots[index] = None,
                    }
                    return;
                }
            };
            let mut ctx = Ctx {
                stats: &mut self.stats,
                out: &mut self.out,
                clock: &self.clock,
            };
            let buf = &mut self.inbuf[..len];
            match slot {
                Slot::Call(call) => match call.on_data(buf, &mut ctx) {
                    Ok(used) => call.conn.keep(&buf[used..]),
                    Err(end) => {
                        self.end_call(index, end);
                        return;
                    }
                },
                Slot::Agent(agent) => match agent.on_data(buf, &mut ctx, &mut self.conversations) {
                    Ok((used, became)) => {
                        agent.conn.keep(&buf[used..]);
                        if became == Became::Conversation {
                            let group = (self.conversations as usize) % PING_GROUPS;
                            self.ping_groups[group].push(index);
                        }
                    }
                    Err(_) => {
                        self.slots[index] = None;
                        return;
                    }
                },
            }
            if !more {
                return;
            }
        }
    }

    /// The peer closed a socket.
    fn closed(&mut self, index: usize) {
        match &self.slots[index] {
            Some(Slot::Call(call)) => {
                let end = call.on_closed();
                self.end_call(index, end);
            }
            _ => self.slots[index] = None,
        }
    }

    /// Ends a call's connection, counting it as failed unless it finished.
    fn end_call(&mut self, index: usize, end: CallEnd) {
        if self.slots[index].take().is_none() {
            return;
        }
        self.open_calls -= 1;
        if let CallEnd::Failed(e) = end {
            self.stats.failed_call(index, &e.to_string());
        }
    }

    /// Every open call says `stop` and closes its side.
    pub fn stop_calls(&mut self) {
        for index in 0..self.stats.calls() {
            let mut ctx = Ctx {
                stats: &mut self.stats,
                out: &mut self.out,
                clock: &self.clock,
            };
            if let Some(Some(Slot::Call(call))) = self.slots.get_mut(index) {
                if let Err(end) = call.stop(&mut ctx) {
                    self.end_call(index, end);
                }
            }
        }
    }
}
