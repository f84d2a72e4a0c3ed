// SPDX-License-Identifier: MIT
/// @file
/// TlsTransport: the checked state machine, handshake, record processing, app-side writes and
/// flow control, bounded shutdown.
#include "tls/tls_transport.hpp"
#include "loop/loop_impl.hpp"

#include "protocol_call.hpp"

#include <bulb/loop.hpp>

#include <array>
#include <utility>

namespace bulb::detail {
namespace {

/// Engine buffers of this size range stay allocated between messages: smaller ones are cheap to
/// make again (and idle connections should hold none), larger ones too costly to keep.
constexpr std::size_t idle_buffer_min = 4 * 1024;
constexpr std::size_t idle_buffer_max = 16 * 1024;

/// Plaintext lands here before data_received (one per thread: delivery is synchronous).
MutableByteView plaintext_buffer() {
    thread_local std::array<std::byte, 64 * 1024> buffer;
    return buffer;
}

const char* name(TlsTransport::State s) noexcept {
    using S = TlsTransport::State;
    switch (s) {
        case S::unwrapped: return "unwrapped";
        case S::handshaking: return "handshaking";
        case S::wrapped: return "wrapped";
        case S::shutting_down: return "shutting_down";
        case S::closed: return "closed";
    }
    return "?";
}

const char* name(TlsTransport::AppState s) noexcept {
    using S = TlsTransport::AppState;
    switch (s) {
        case S::init: return "init";
        case S::connected: return "connected";
        case S::eof: return "eof";
        case S::lost: return "lost";
    }
    return "?";
}

}  // namespace

// --- the two state machines -----------------------------------------------------------------

bool TlsTransport::legal(State from, State to) noexcept {
    if (from == to) return true;  // idempotent (asyncio allows it too)
    if (to == State::closed) return true;  // failure, abort or loss: from anywhere
    switch (from) {
        case State::unwrapped: return to == State::handshaking;
        case State::handshaking: return to == State::wrapped;
        case State::wrapped: return to == State::shutting_down;
        case State::shutting_down:
        case State::closed: return false;
    }
    return false;
}

bool TlsTransport::legal(AppState from, AppState to) noexcept {
    if (from == to) return true;
    switch (from) {
        case AppState::init: return to == AppState::connected || to == AppState::lost;
        case AppState::connected: return to == AppState::eof || to == AppState::lost;
        case AppState::eof: return to == AppState::lost;
        case AppState::lost: return false;
    }
    return false;
}

void TlsTransport::set_state(State to) {
    if (!legal(state_, to))
        throw InvalidStateError(std::string("TLS: illegal state transition ") + name(state_) + " -> " + name(to));
    state_ = to;
}

void TlsTransport::set_app_state(AppState to) {
    if (!legal(app_state_, to))
        throw InvalidStateError(std::string("TLS: illegal app protocol state transition ") + name(app_state_) +
                                " -> " + name(to));
    app_state_ = to;
}

// --- setup ----------------------------------------------------------------------------------

TlsTransport::TlsTransport(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                           std::optional<Future<Connection>> waiter, bool call_connection_made)
    : loop_(loop),
      settings_(std::move(settings)),
      engine_(TlsEngine::create(settings_.context, settings_.server_side, settings_.server_hostname)),
      app_(std::move(app)),
      waiter_(std::move(waiter)),
      app_state_(call_connection_made ? AppState::init : AppState::connected),
      call_connection_made_(call_connection_made) {}

TlsTransport::~TlsTransport() { timer_.cancel(); }

template <class Call>
bool TlsTransport::call_app(const char* callback, Call&& fn) noexcept {
    if (call_protocol(loop_, this, callback, std::forward<Call>(fn))) return true;
    fail(make_error_code(errc::protocol_callback_failed));
    return false;
}

void TlsTransport::start(Transport& raw, ByteView already_read, bool app_writing_paused) {
    raw_ = TransportPtr(&raw);
    app_writing_paused_ = app_writing_paused;
    SocketAddress peer;
    try {
        peer = raw.get_peername();
        peer_ = peer.family() == AF_UNSPEC ? std::string() : peer.to_string();
    } catch (const std::exception&) {
        // a socket already torn down: the handshake fails below and its message names no peer
    }
    if (!settings_.server_side) {
        // The session cache key: the name the certificate is checked against (or the address)
        // and the port, so that a session is only offered to the server it came from.
        const bool inet = peer.family() == AF_INET || peer.family() == AF_INET6;
        const std::string host = settings_.server_hostname.empty() && inet ? peer.host() : settings_.server_hostname;
        engine_->set_session_key(inet ? host + ":" + std::to_string(peer.port()) : host + "@" + peer_);
    }
    set_state(State::handshaking);
    if (settings_.handshake_timeout > Duration::zero())
        timer_ = loop_.call_later(settings_.handshake_timeout, [this] {  // cancelled by ~TlsTransport
            if (state_ == State::handshaking) fail(make_error_code(errc::timed_out));
        });
    // Cancelling the waiter (e.g. create_connection's future) abandons the handshake: without
    // this the connection lingered until the handshake timeout. The canceller holds this
    // transport counted; the future drops it when it is done.
    if (waiter_ && !waiter_->done())
        waiter_->set_canceller([self = RefPtr<TlsTransport>(this), w = *waiter_](std::string message) mutable {
            auto waiter = w;  // set_canceller({}) destroys this lambda: use locals only after it
            RefPtr<TlsTransport> tls = self;
            waiter.set_canceller({});
            bool cancelled = waiter.cancel(std::move(message));
            if (tls->state_ == State::handshaking) tls->fail(make_error_code(errc::cancelled));
            return cancelled;
        });
    if (!already_read.empty()) engine_->feed(already_read);
    do_handshake();
    engine_->stash();  // the caller's bytes go away now
}

// --- handshake ------------------------------------------------------------------------------

void TlsTransport::do_handshake() {
    switch (engine_->handshake()) {
        case TlsEngine::Status::ok:
            flush();
            engine_->trim(0, 0);  // the handshake's flights (certificates) need not stay allocated
            handshake_done();
            return;
        case TlsEngine::Status::want_io: flush(); return;
        case TlsEngine::Status::closed:
        case TlsEngine::Status::failed:
            flush();  // send the alert that says why
            if (lost_detail_.empty()) lost_detail_ = engine_->error_detail();
            fail(engine_->error() ? engine_->error() : make_error_code(errc::tls_handshake_failed));
            return;
    }
}

void TlsTransport::handshake_done() {
    set_state(State::wrapped);
    timer_.cancel();
    if (call_connection_made_) {
        set_app_state(AppState::connected);  // connection_lost follows even if this throws
        if (!call_app("connection_made", [&] { app_->connection_made(*this); })) return;
    }
    resolve_waiter();
    if (!pending_.empty()) {
        std::string pending = std::move(pending_);
        pending_.clear();
        write(as_bytes(pending));
    }
    if (closing_)
        begin_shutdown();
    else
        process_incoming();
}

void TlsTransport::resolve_waiter() noexcept {
    if (waiter_ && !waiter_->done()) waiter_->set_result(Connection{TransportPtr(this)});
    waiter_.reset();
}

// --- incoming -------------------------------------------------------------------------------

void TlsTransport::raw_data_received(ByteView data) {
    engine_->feed(data);  // read in place ...
    if (state_ == State::handshaking)
        do_handshake();
    else if (wrapped())
        process_incoming();
    engine_->stash();     // ... and what is left (reading paused, a partial record) copied
}

bool TlsTransport::raw_eof_received() {
    if (app_state_ == AppState::eof) return true;  // the FIN after close_notify: the app still writes
    engine_->feed_eof();
    if (state_ == State::handshaking)
        fail(std::make_error_code(std::errc::connection_reset));  // the peer left mid-handshake
    else if (wrapped())
        process_incoming();  // reports close_notify, or an EOF without it
    return false;
}

/// Decrypts what the engine holds and delivers it, one batch of records per step, until the
/// engine wants more ciphertext, the app pauses reading, or the connection ends.
void TlsTransport::process_incoming() {
    if (app_state_ == AppState::eof && state_ == State::wrapped) return;  // nothing more comes until we close
    while (!reading_paused_ && wrapped()) {
        auto* buffered = dynamic_cast<BufferedProtocol*>(app_.get());
        MutableByteView out;
        if (!app_buffer(buffered, out)) return;
        std::size_t n = 0;
        const TlsEngine::Status status = read_records(out, n);
        if (status == TlsEngine::Status::ok) {
            if (state_ == State::shutting_down) continue;  // closing: drain and discard
            if (!deliver(buffered, out, n)) return;
            continue;
        }
        flush();  // reading may produce records to send (key updates, alerts)
        switch (status) {
            case TlsEngine::Status::want_io:
                // All read: an idle connection keeps no buffer; mid-sized ones stay, which every
                // message would otherwise reallocate, but not what a large transfer grew.
                engine_->trim(idle_buffer_min, idle_buffer_max);
                return;
            case TlsEngine::Status::closed: on_close_notify(); return;
            case TlsEngine::Status::ok:
            case TlsEngine::Status::failed: fail(engine_->error()); return;
        }
    }
    flush();
}

/// Step 1: where the plaintext goes (the app's own buffer for a BufferedProtocol).
bool TlsTransport::app_buffer(BufferedProtocol* buffered, MutableByteView& out) {
    out = plaintext_buffer();
    if (!buffered) return true;
    const std::size_t hint = out.size();
    return call_app("get_buffer", [&] { out = buffered->get_buffer(hint); });
}

/// Step 2: one batch of records. A record holds at most 16 KiB: read on while records fill the
/// buffer, so that a large message reaches the app in one call (and goes back in one write and
/// one send), as a plain socket read would.
TlsEngine::Status TlsTransport::read_records(MutableByteView out, std::size_t& n) {
    if (deferred_) return *std::exchange(deferred_, std::nullopt);
    TlsEngine::Status status = engine_->read(out, n);
    while (status == TlsEngine::Status::ok && n < out.size()) {
        std::size_t more = 0;
        const auto next = engine_->read(out.subspan(n), more);
        if (next != TlsEngine::Status::ok) {
            // The engine has moved past a close_notify or an error: keep it for after the
            // delivery (want_io needs nothing: the next read says it again).
            if (next != TlsEngine::Status::want_io) deferred_ = next;
            break;
        }
        n += more;
    }
    return status;
}

/// Step 3: the batch to the app.
bool TlsTransport::deliver(BufferedProtocol* buffered, MutableByteView out, std::size_t n) {
    if (buffered) return call_app("buffer_updated", [&] { buffered->buffer_updated(n); });
    return call_app("data_received", [&] { app_->data_received(ByteView(out.data(), n)); });
}

/// Step 4: the peer's close_notify.
void TlsTransport::on_close_notify() {
    if (state_ == State::wrapped) {
        bool keep_open = false;
        if (!call_app("eof_received", [&] { keep_open = app_->eof_received(); })) return;
        // As over TCP, true keeps our side open: a peer that sent its request and then
        // close_notify (socat at end of input, TLS 1.3 half-close) still gets the reply, and our
        // close_notify follows when the app closes. OpenSSL writes after receiving
        // close_notify; it only refuses after sending one.
        if (keep_open && !closing_ && state_ == State::wrapped) {
            set_app_state(AppState::eof);
            return;
        }
    }
    closing_ = true;
    engine_->shutdown();
    flush();
    set_state(State::closed);
    raw_->close();
}

// --- outgoing -------------------------------------------------------------------------------

void TlsTransport::write(ByteView data) {
    loop_.impl().check_thread("Transport::write");
    if (data.empty()) return;
    if (closing_ || state_ == State::closed || state_ == State::shutting_down) {
        ++dropped_writes_;
        return;
    }
    if (state_ != State::wrapped) {
        pending_.append(as_string_view(data));
        return;
    }
    if (engine_->write(data) != TlsEngine::Status::ok) {
        fail(engine_->error());
        return;
    }
    flush();
}

void TlsTransport::flush() {
    std::string& out = engine_->output();
    if (out.empty() || !raw_) return;
    raw_->write(as_bytes(out));
    out.clear();
}

std::size_t TlsTransport::get_write_buffer_size() const noexcept {
    if (app_state_ == AppState::lost) return 0;
    return pending_.size() + (raw_ ? raw_->get_write_buffer_size() : 0);
}

void TlsTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    loop_.impl().check_thread("Transport::set_write_buffer_limits");
    if (raw_) raw_->set_write_buffer_limits(high, low);
}

WriteBufferLimits TlsTransport::get_write_buffer_limits() const noexcept {
    return raw_ ? raw_->get_write_buffer_limits() : WriteBufferLimits{};
}

void TlsTransport::raw_pause_writing() {
    if (app_state_ == AppState::init || app_state_ == AppState::lost || app_writing_paused_) return;
    app_writing_paused_ = true;
    call_app("pause_writing", [&] { app_->pause_writing(); });
}

void TlsTransport::raw_resume_writing() {
    if (!app_writing_paused_) return;
    app_writing_paused_ = false;
    call_app("resume_writing", [&] { app_->resume_writing(); });
}

// --- reading control ------------------------------------------------------------------------

void TlsTransport::pause_reading() {
    loop_.impl().check_thread("Transport::pause_reading");
    if (is_closing() || reading_paused_) return;
    reading_paused_ = true;
    raw_->pause_reading();
}

void TlsTransport::resume_reading() {
    loop_.impl().check_thread("Transport::resume_reading");
    if (is_closing() || !reading_paused_) return;
    reading_paused_ = false;
    raw_->resume_reading();
    // Records already decrypted or buffered (or the close_notify that ended the last batch) are
    // delivered from the loop, not from this call.
    if (engine_->has_buffered_input() || deferred_)
        loop_.call_soon([t = RefPtr<TlsTransport>(this)] {
            if (t->app_state_ != AppState::lost) t->process_incoming();
        });
}

// --- closing --------------------------------------------------------------------------------

void TlsTransport::close() {
    loop_.impl().check_thread("Transport::close");
    if (is_closing()) return;
    closing_ = true;
    if (state_ == State::wrapped)
        begin_shutdown();
    else if (state_ != State::handshaking && raw_)
        raw_->close();
    // While handshaking, the shutdown starts once the handshake completes (handshake_done).
}

void TlsTransport::begin_shutdown() {
    set_state(State::shutting_down);
    reading_paused_ = false;
    raw_->resume_reading();  // the peer's close_notify must be read
    engine_->shutdown();
    flush();
    timer_.cancel();
    if (settings_.shutdown_timeout > Duration::zero())
        timer_ = loop_.call_later(settings_.shutdown_timeout, [this] {  // cancelled by ~TlsTransport
            // The peer never answered: do not wait any longer, and say so to connection_lost.
            if (state_ == State::shutting_down) fail(make_error_code(errc::tls_shutdown_timed_out));
        });
    process_incoming();
}

void TlsTransport::abort() {
    loop_.impl().check_thread("Transport::abort");
    if (app_state_ == AppState::lost) return;
    closing_ = true;
    set_state(State::closed);
    timer_.cancel();
    if (raw_) raw_->abort();
}

void TlsTransport::fail(std::error_code ec) noexcept {
    if (!lost_error_) lost_error_ = ec;
    closing_ = true;
    state_ = State::closed;  // legal from every state (set_state would only check that)
    timer_.cancel();
    if (raw_) raw_->abort();
}

void TlsTransport::raw_connection_lost(std::error_code ec) {
    timer_.cancel();
    set_state(State::closed);
    closing_ = true;
    const std::error_code reason = lost_error_ ? lost_error_ : ec;
    if (waiter_ && !waiter_->done()) {
        const std::error_code why = reason ? reason : make_error_code(errc::tls_handshake_failed);
        std::string what = "TLS handshake failed";
        if (!peer_.empty() || !settings_.server_hostname.empty()) {
            what += " with ";
            what += settings_.server_hostname.empty() ? peer_ : settings_.server_hostname + (peer_.empty() ? "" : " at " + peer_);
        }
        if (!lost_detail_.empty()) what += ": " + lost_detail_;
        waiter_->set_error(why, what);
    }
    waiter_.reset();
    const bool told = app_state_ != AppState::init;
    set_app_state(AppState::lost);
    if (told && app_) call_protocol(loop_, this, "connection_lost", [&] { app_->connection_lost(reason); });
    app_.reset();  // the app protocol usually holds this transport: no cycle outlives the connection
}

// --- information ----------------------------------------------------------------------------

SocketAddress TlsTransport::get_peername() const { return raw_ ? raw_->get_peername() : SocketAddress(); }
SocketAddress TlsTransport::get_sockname() const { return raw_ ? raw_->get_sockname() : SocketAddress(); }
int TlsTransport::get_fd() const noexcept { return raw_ ? raw_->get_fd() : -1; }

std::optional<std::string> TlsTransport::get_extra_info(std::string_view name) const {
    if (app_state_ != AppState::lost)
        if (auto v = engine_->info(name)) return v;
    return Transport::get_extra_info(name);
}

std::optional<ExtraInfo> TlsTransport::get_extra_info_value(std::string_view name) const {
    if (app_state_ != AppState::lost)
        if (auto v = engine_->info_value(name)) return v;
    return Transport::get_extra_info_value(name);
}

std::unique_ptr<Protocol> TlsTransport::set_protocol(std::unique_ptr<Protocol> protocol) {
    loop_.impl().check_thread("Transport::set_protocol");
    if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
    if (app_state_ == AppState::lost) return protocol;
    std::swap(protocol, app_);
    return protocol;
}

}  // namespace bulb::detail
