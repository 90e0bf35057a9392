//! The guest's stdin and stdout, connected to the client while the guest runs.
//!
//! The request belongs to the worker thread that handles it, and that thread is inside the run,
//! waiting for the guest, while the guest reads and writes. So the request side is *lent* to
//! the guest's streams for the length of the run ([`lend`]): whichever thread a runtime calls
//! them on reaches the request through one lock, one call at a time, and only until the run
//! returns.
//!
//! What the guest writes to stdout is a CGI header block and then the body (without CGI, all of
//! it is body). Streamed, body bytes are held back until [`HOLD_BACK`] of them wait, until the
//! guest waits for the request body, or until it has written nothing for [`IDLE`]; then the head
//! and what waits go to the client. So a guest that fails before its first body bytes, or soon
//! after them, still gets a clean error status, small writes go out together, and a guest that
//! pauses has what it wrote so far delivered. Buffered, nothing goes out while the guest runs. The pipeline decides what
//! becomes of what was not sent once the run is over.

use super::{ClientGone, ResponseHead, Wire};
use crate::settings::output::{Delivery, DeliveryMode};
use crate::settings::timing::ServerTiming;
use cgi::response::MAX_HEADER_BLOCK;
use cgi::{Disposition, MalformedResponse};
use runtime_api::sync::{lock, wait};
use runtime_api::{Fields, RequestBody};
use std::io::{self, Read, Write};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How many body bytes a streamed response holds back before sending them. A response that fits, from a guest that exits soon, goes out
/// whole, with a `Content-Length`, and a guest that fails before it wrote that much still gets
/// a clean error status.
pub(super) const HOLD_BACK: usize = 128 * 1024;

/// How long a streamed response may have unsent bytes while the guest writes nothing more.
pub(super) const IDLE: Duration = Duration::from_millis(10);

/// One run's output and the request side it reaches, shared by the guest's streams.
pub(super) type Shared<A> = Arc<Mutex<Conduit<A>>>;

/// What becomes of the guest's stdout, and what reading its stdin met.
pub(super) struct Conduit<A> {
    /// The request side, while it is lent.
    wire: Option<Lent<A>>,
    delivery: Delivery,
    /// Bytes the guest wrote to stdout.
    written: u64,
    pub(super) output: Output,
    /// Whether something went to the request side, or waits to, since its last flush.
    dirty: bool,
    /// When the guest last wrote to stdout.
    last_write: Instant,
    /// Whether the flusher watches this conduit.
    watched: bool,
    /// Whether the guest tried to write past the output limit.
    pub(super) over_limit: bool,
    /// Whether the client stopped taking the response.
    pub(super) client_gone: bool,
    /// How reading the request body ended, when it failed.
    pub(super) abort: Option<A>,
    /// A handler's response trailers, sent after a body delivered whole.
    pub(super) trailers: Fields,
    pub(super) timing: Timing,
}

/// What goes into the `Server-Timing` header, when the location sends one.
pub(super) struct Timing {
    pub(super) setting: ServerTiming,
    pub(super) runtime: &'static str,
    pub(super) started: Instant,
    /// How long the run took, once it is over.
    pub(super) took: Option<Duration>,
}

/// The guest's stdout so far.
pub(super) enum Output {
    /// Nothing yet from a `wasi:http` handler, which gives its head as such.
    AwaitingHead,
    /// The CGI header block, incomplete.
    Head(Vec<u8>),
    /// A response with this status: its head while it has not been sent, the body bytes not
    /// sent yet, and how many were.
    Body {
        status: u16,
        head: Option<ResponseHead>,
        pending: Vec<u8>,
        sent: u64,
    },
    /// A local redirect; the rest of the output is discarded.
    Redirect(String),
    /// Output that is not a CGI response; the rest is discarded.
    Malformed(MalformedResponse),
}

/// The request side, lent for the length of a run.
struct Lent<A>(NonNull<dyn Wire<Abort = A>>);

impl<A> Clone for Lent<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for Lent<A> {}

// SAFETY: a `Wire` is `Send`, and a `Lent` is only dereferenced under the conduit's lock.
unsafe impl<A> Send for Lent<A> {}

impl<A: Send + 'static> Conduit<A> {
    /// A conduit for one run whose output starts as `output`: a CGI header block to come
    /// ([`Output::Head`]), a body for a given head ([`Output::Body`]), or a handler's response
    /// ([`Output::AwaitingHead`]).
    pub(super) fn shared(delivery: Delivery, output: Output, timing: Timing) -> Shared<A> {
        Arc::new(Mutex::new(Conduit {
            wire: None,
            delivery,
            written: 0,
            output,
            dirty: false,
            last_write: Instant::now(),
            watched: false,
            over_limit: false,
            client_gone: false,
            abort: None,
            trailers: Fields::new(),
            timing,
        }))
    }

    /// Whether the response's head went to the client: from then on it cannot be taken back.
    pub(super) fn started(&self) -> bool {
        matches!(self.output, Output::Body { head: None, .. })
    }

    /// The status of the response, once the header block is complete.
    pub(super) fn status(&self) -> Option<u16> {
        match self.output {
            Output::Body { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Body bytes that reached the request side.
    pub(super) fn sent(&self) -> u64 {
        match self.output {
            Output::Body { sent, .. } => sent,
            _ => 0,
        }
    }

    /// The most the guest may write, when bounded.
    pub(super) fn limit(&self) -> Option<u64> {
        self.delivery.limit
    }

    /// Sends through `wire` the head if it has not gone yet, the pending body, and `more`.
    /// Records a client that went away.
    pub(super) fn send(&mut self, wire: &mut dyn Wire<Abort = A>, more: &[u8]) {
        let Output::Body {
            head,
            pending,
            sent,
            ..
        } = &mut self.output
        else {
            return;
        };
        if self.client_gone {
            return;
        }
        if let Some(mut head) = head.take() {
            let took = self.timing.took.unwrap_or(self.timing.started.elapsed());
            head.headers
                .extend(self.timing.setting.header(took, self.timing.runtime));
            wire.send_head(&head);
        }
        for piece in [pending.as_slice(), more] {
            if piece.is_empty() {
                continue;
            }
            if let Err(ClientGone) = wire.send_body(piece) {
                self.client_gone = true;
                break;
            }
            *sent += piece.len() as u64;
        }
        pending.clear();
        self.dirty = true;
    }

    /// Sends what waits and flushes it to the client, when streamed. A head waits for body
    /// bytes to go with it: a guest that fails between its header block and its body (a
    /// traceback, a failed query) still gets a clean error status.
    fn flush(&mut self) {
        if self.delivery.mode != DeliveryMode::Streamed || !self.dirty {
            return;
        }
        if matches!(&self.output, Output::Body { head: Some(_), pending, .. } if pending.is_empty())
        {
            return;
        }
        self.with_wire(|conduit, wire| {
            conduit.send(wire, &[]);
            if !conduit.client_gone && wire.flush().is_err() {
                conduit.client_gone = true;
            }
            conduit.dirty = false;
        });
    }

    /// Calls `f` with the lent request side; `None` when it is not lent (any more).
    fn with_wire<R>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut dyn Wire<Abort = A>) -> R,
    ) -> Option<R> {
        let lent = self.wire?;
        // SAFETY: `wire` is set only by `lend`, from a `&mut` that outlives the lending, and is
        // cleared under this lock before `lend` returns; the lock makes this the only use.
        let wire = unsafe { &mut *lent.0.as_ptr() };
        Some(f(self, wire))
    }

    /// Counts `len` bytes the guest writes against the limit: how many of them it may write.
    fn admit(&mut self, len: usize) -> io::Result<usize> {
        if self.client_gone {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            ));
        }
        let room = self
            .delivery
            .limit
            .map_or(u64::MAX, |limit| limit.saturating_sub(self.written));
        let admitted = usize::try_from(room).map_or(len, |room| len.min(room));
        if admitted < len {
            self.over_limit = true;
        }
        if admitted == 0 && len > 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "the output limit was reached",
            ));
        }
        self.written += admitted as u64;
        Ok(admitted)
    }

    /// Takes `bytes` the guest wrote.
    pub(super) fn take(&mut self, bytes: &[u8]) {
        self.last_write = Instant::now();
        let streamed = self.delivery.mode == DeliveryMode::Streamed;
        match &mut self.output {
            Output::Head(head) => {
                head.extend_from_slice(bytes);
                // Only a new line can complete the block, or a new byte make it too long.
                if bytes.contains(&b'\n') || head.len() > MAX_HEADER_BLOCK {
                    self.output = match cgi::parse_response(head) {
                        Err(MalformedResponse::UnterminatedHeaders | MalformedResponse::Empty) => {
                            return
                        }
                        Err(malformed) => Output::Malformed(malformed),
                        Ok(Disposition::LocalRedirect { path }) => Output::Redirect(path),
                        Ok(Disposition::Respond(response)) => Output::Body {
                            status: response.status,
                            pending: response.body.to_vec(),
                            head: Some(ResponseHead::from(response)),
                            sent: 0,
                        },
                    };
                    self.dirty = self.pending_len() > 0;
                }
                if streamed && self.pending_len() >= HOLD_BACK {
                    self.with_wire(|conduit, wire| conduit.send(wire, &[]));
                }
            }
            Output::Body { pending, .. } => {
                self.dirty = true;
                if streamed && self.wire.is_some() && pending.len() + bytes.len() >= HOLD_BACK {
                    // Enough to send: what waited, then these bytes without copying them.
                    self.with_wire(|conduit, wire| conduit.send(wire, bytes));
                } else {
                    pending.extend_from_slice(bytes);
                }
            }
            Output::Redirect(_) | Output::Malformed(_) | Output::AwaitingHead => {}
        }
    }

    fn pending_len(&self) -> usize {
        match &self.output {
            Output::Body { pending, .. } => pending.len(),
            _ => 0,
        }
    }
}

/// Lends `wire` to the streams of `shared` while `run` runs, and takes it back before
/// returning, also when `run` unwinds.
pub(super) fn lend<A: Send + 'static, R>(
    shared: &Mutex<Conduit<A>>,
    wire: &mut (dyn Wire<Abort = A> + '_),
    run: impl FnOnce() -> R,
) -> R {
    struct TakeBack<'c, A>(&'c Mutex<Conduit<A>>);
    impl<A> Drop for TakeBack<'_, A> {
        fn drop(&mut self) {
            // Waits for a call in progress; after it, nothing reaches the request side.
            lock(self.0).wire = None;
        }
    }
    let borrowed: NonNull<dyn Wire<Abort = A> + '_> = NonNull::from(wire);
    // SAFETY: only the lifetime changes. The pointer is used only while it is in the conduit,
    // and `TakeBack` removes it before the borrow it came from ends.
    let lent: NonNull<dyn Wire<Abort = A> + 'static> = unsafe { std::mem::transmute(borrowed) };
    lock(shared).wire = Some(Lent(lent));
    let _take_back = TakeBack(shared);
    run()
}

/// Takes what the guest writes to `shared`: how much of `bytes` it took.
fn write<A: Send + 'static>(shared: &Shared<A>, bytes: &[u8]) -> io::Result<usize> {
    let mut conduit = lock(shared);
    let admitted = conduit.admit(bytes.len())?;
    conduit.take(&bytes[..admitted]);
    let streamed = conduit.delivery.mode == DeliveryMode::Streamed;
    if streamed && conduit.dirty && !conduit.watched && conduit.wire.is_some() {
        if let Some(flusher) = Flusher::get() {
            conduit.watched = true;
            let conduit: Weak<dyn Idle> = Arc::downgrade(shared) as Weak<Mutex<Conduit<A>>>;
            flusher.watch(conduit);
        }
    }
    Ok(admitted)
}

/// The guest's stdout.
pub(super) struct GuestStdout<A: Send + 'static>(pub(super) Shared<A>);

impl<A: Send + 'static> Write for GuestStdout<A> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        write(&self.0, bytes)
    }

    /// WASI has no call that flushes stdout, and runtimes flush after every write: the
    /// conduit decides when to flush instead.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `wasi:http` handler's response: its head, then its body as the guest's stdout is taken.
pub(super) struct GuestResponse<A: Send + 'static>(pub(super) Shared<A>);

impl<A: Send + 'static> Write for GuestResponse<A> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        write(&self.0, bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<A: Send + 'static> runtime_api::HttpResponse for GuestResponse<A> {
    fn head(&mut self, status: u16, headers: Vec<(String, String)>) {
        let mut conduit = lock(&self.0);
        if !matches!(conduit.output, Output::AwaitingHead) {
            return;
        }
        let mut head = ResponseHead {
            status,
            status_given: true,
            ..ResponseHead::default()
        };
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-type") {
                head.content_type = Some(value);
            } else if !cgi::response::is_server_owned(&name) {
                head.headers.push((name, value));
            }
        }
        conduit.output = Output::Body {
            status,
            head: Some(head),
            pending: Vec::new(),
            sent: 0,
        };
    }

    fn trailers(&mut self, trailers: Fields) {
        let mut conduit = lock(&self.0);
        conduit.trailers = trailers
            .into_iter()
            .filter(|(name, _)| may_trail(name))
            .collect();
    }
}

/// Whether a handler's trailer field `name` is sent. Dropped are those a trailer section
/// cannot carry (RFC 9110 §6.5.1): the message's framing and routing, and what a recipient
/// must know before the content (its type, encoding and range).
fn may_trail(name: &str) -> bool {
    const HEAD_ONLY: &[&str] = &[
        "content-encoding",
        "content-range",
        "content-type",
        "host",
        "te",
        "trailer",
        "upgrade",
    ];
    !cgi::response::is_server_owned(name) && !HEAD_ONLY.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// The guest's stdin: the request body as it arrives.
pub(super) struct GuestStdin<A: Send + 'static>(pub(super) Shared<A>);

impl<A: Send + 'static> Read for GuestStdin<A> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut conduit = lock(&self.0);
        if conduit.abort.is_some() {
            return Err(unreadable_body());
        }
        // The guest waits for the client: what it wrote so far goes out first.
        conduit.flush();
        match conduit.with_wire(|_, wire| wire.read_body(buf)) {
            Some(Ok(n)) => Ok(n),
            Some(Err(abort)) => {
                conduit.abort = Some(abort);
                Err(unreadable_body())
            }
            // The run is over.
            None => Ok(0),
        }
    }
}

impl<A: Send + 'static> RequestBody for GuestStdin<A> {
    fn trailers(&mut self) -> Fields {
        lock(&self.0)
            .with_wire(|_, wire| wire.read_trailers())
            .unwrap_or_default()
    }
}

fn unreadable_body() -> io::Error {
    io::Error::other("the request body could not be read")
}

/// What the flusher finds a watched conduit doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idleness {
    /// Its guest writes, or wrote within [`IDLE`]: look again later.
    Busy,
    /// Its guest has been idle with bytes waiting: flush them.
    Due,
    /// Nothing waits, or the run is over: stop watching it.
    Done,
}

/// A conduit the flusher can flush once its guest is idle.
trait Idle: Send + Sync {
    /// Whether the guest has written nothing for [`IDLE`] by `now` while bytes wait. Never
    /// blocks.
    fn idleness(&self, now: Instant) -> Idleness;

    /// Sends what waits and flushes it; as slow as the conduit's client is.
    fn flush_idle(&self);
}

impl<A: Send + 'static> Idle for Mutex<Conduit<A>> {
    fn idleness(&self, now: Instant) -> Idleness {
        let mut conduit = match self.try_lock() {
            Ok(conduit) => conduit,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // The guest is writing or waits for the request body, or a flush is under way:
            // it is not idle.
            Err(std::sync::TryLockError::WouldBlock) => return Idleness::Busy,
        };
        if conduit.wire.is_none() || !conduit.dirty {
            conduit.watched = false;
            return Idleness::Done;
        }
        if now.saturating_duration_since(conduit.last_write) < IDLE {
            return Idleness::Busy;
        }
        Idleness::Due
    }

    fn flush_idle(&self) {
        let mut conduit = lock(self);
        conduit.flush();
        conduit.watched = false;
    }
}

/// The thread that watches streamed responses for guests gone idle, one per process, started by
/// the first streamed response (in an Apache child, after the fork). Each flush it finds due
/// runs on a thread of its own: a client that does not read blocks its own flush, as long as
/// the server's `Timeout`, and no other response's.
///
/// It looks every half [`IDLE`] while it has responses to watch, and for [`LINGER`] after the
/// last one; only then does it sleep until the next. Under load, a response starts being
/// watched without waking a thread.
struct Flusher {
    state: Mutex<FlusherState>,
    wake: Condvar,
}

struct FlusherState {
    watched: Vec<Weak<dyn Idle>>,
    /// Whether the thread waits for `wake`.
    asleep: bool,
}

/// How long the flusher keeps looking after the last response it watched.
const LINGER: Duration = Duration::from_secs(1);

impl Flusher {
    /// The process's flusher; `None` if its thread cannot be started, and responses are then
    /// flushed only by their guests' reads and at their end.
    fn get() -> Option<&'static Flusher> {
        static FLUSHER: OnceLock<Option<&'static Flusher>> = OnceLock::new();
        *FLUSHER.get_or_init(|| {
            let flusher: &'static Flusher = Box::leak(Box::new(Flusher {
                state: Mutex::new(FlusherState {
                    watched: Vec::new(),
                    asleep: false,
                }),
                wake: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("mod_wasm-flush".into())
                .spawn(move || flusher.run())
                .ok()?;
            Some(flusher)
        })
    }

    fn watch(&self, conduit: Weak<dyn Idle>) {
        let mut state = lock(&self.state);
        state.watched.push(conduit);
        if state.asleep {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut last_watched = Instant::now();
        loop {
            {
                let mut state = lock(&self.state);
                if !state.watched.is_empty() {
                    last_watched = Instant::now();
                } else if last_watched.elapsed() >= LINGER {
                    state.asleep = true;
                    while state.watched.is_empty() {
                        state = wait(&self.wake, state);
                    }
                    state.asleep = false;
                }
            }
            std::thread::sleep(IDLE / 2);
            let now = Instant::now();
            let batch = std::mem::take(&mut lock(&self.state).watched);
            let still: Vec<_> = batch
                .into_iter()
                .filter(|watched| {
                    let Some(conduit) = watched.upgrade() else {
                        return false;
                    };
                    match conduit.idleness(now) {
                        Idleness::Busy => true,
                        Idleness::Done => false,
                        Idleness::Due => {
                            flush_aside(conduit);
                            false
                        }
                    }
                })
                .collect();
            lock(&self.state).watched.extend(still);
        }
    }
}

/// Flushes `conduit` on a thread of its own, or here when no thread can be started.
fn flush_aside(conduit: Arc<dyn Idle>) {
    let aside = conduit.clone();
    let spawned = std::thread::Builder::new()
        .name("mod_wasm-flush1".into())
        .spawn(move || aside.flush_idle());
    if spawned.is_err() {
        conduit.flush_idle();
    }
}
