// SPDX-License-Identifier: MIT
/// @file
/// TlsProtocol: handshake, record processing, app-side writes and flow control, bounded shutdown.
#include "tls/tls_protocol.hpp"

#include "stream_transport.hpp"
#include "tls/tls_transport.hpp"

#include <bulb/loop.hpp>

#include <array>
#include <optional>
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

}  // namespace

TlsProtocol::TlsProtocol(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                         std::optional<Future<Connection>> waiter, bool call_connection_made)
    : loop_(loop),
      settings_(std::move(settings)),
      engine_(TlsEngine::create(settings_.context, settings_.server_side, settings_.server_hostname)),
      app_(std::move(app)),
      waiter_(std::move(waiter)),
      call_connection_made_(call_connection_made),
      app_connected_(!call_connection_made) {}

TlsProtocol::~TlsProtocol() {
    timer_.cancel();
    if (waiter_ && !waiter_->done()) waiter_->set_canceller({});  // it points at this protocol
    if (app_transport_) app_transport_->detach();
}

void TlsProtocol::start(Transport& raw, ByteView already_read, bool app_writing_paused) {
    raw_ = &raw;
    app_writing_paused_ = app_writing_paused;
    app_transport_ = RefPtr<TlsTransport>(new TlsTransport(this, raw));
    state_ = State::handshaking;
    if (settings_.handshake_timeout > Duration::zero())
        timer_ = loop_.call_later(settings_.handshake_timeout, [this] {
            if (state_ == State::handshaking) fail(make_error_code(errc::timed_out));
        });
    // Cancelling the waiter (e.g. create_connection's future) abandons the handshake: without
    // this the connection lingered until the handshake timeout.
    if (waiter_ && !waiter_->done())
        waiter_->set_canceller([this, w = *waiter_](std::string message) mutable {
            auto waiter = w;     // set_canceller({}) destroys this lambda: use locals only after it
            TlsProtocol* self = this;
            waiter.set_canceller({});
            bool cancelled = waiter.cancel(std::move(message));
            if (self->state_ == State::handshaking) self->fail(make_error_code(errc::cancelled));
            return cancelled;
        });
    if (!already_read.empty()) engine_->feed(already_read);
    do_handshake();
    engine_->stash();  // the caller's bytes go away now
}

// --- incoming -------------------------------------------------------------------------------

void TlsProtocol::data_received(ByteView data) {
    engine_->feed(data);  // read in place ...
    if (state_ == State::handshaking)
        do_handshake();
    else if (state_ == State::wrapped || state_ == State::shutting_down)
        process_incoming();
    engine_->stash();     // ... and what is left (reading paused, a partial record) copied
}

bool TlsProtocol::eof_received() {
    if (peer_closed_) return true;  // the FIN after close_notify: the app still writes
    engine_->feed_eof();
    if (state_ == State::handshaking)
        fail(std::make_error_code(std::errc::connection_reset));  // the peer left mid-handshake
    else if (state_ == State::wrapped || state_ == State::shutting_down)
        process_incoming();  // reports close_notify, or an EOF without it
    return false;
}

void TlsProtocol::do_handshake() {
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
            fail(engine_->error() ? engine_->error() : make_error_code(errc::tls_handshake_failed));
            return;
    }
}

void TlsProtocol::handshake_done() {
    state_ = State::wrapped;
    timer_.cancel();
    if (call_connection_made_) {
        try {
            app_->connection_made(*app_transport_);
        } catch (...) {
            app_connected_ = true;
            callback_failed("Exception in protocol.connection_made()");
            return;
        }
        app_connected_ = true;
    }
    if (waiter_ && !waiter_->done()) waiter_->set_result(Connection{TransportPtr(app_transport_.get())});
    waiter_.reset();
    if (!pending_.empty()) {
        std::string pending = std::move(pending_);
        pending_.clear();
        app_write(as_bytes(pending));
    }
    if (closing_)
        begin_shutdown();
    else
        process_incoming();
}

void TlsProtocol::process_incoming() {
    if (peer_closed_ && state_ == State::wrapped) return;  // nothing more comes until we close
    while (!reading_paused_ && (state_ == State::wrapped || state_ == State::shutting_down)) {
        std::size_t n = 0;
        auto* buffered = dynamic_cast<BufferedProtocol*>(app_.get());
        MutableByteView out = plaintext_buffer();
        try {
            if (buffered) out = buffered->get_buffer(out.size());
        } catch (...) {
            callback_failed("Exception in protocol.get_buffer()");
            return;
        }
        TlsEngine::Status status;
        if (deferred_) {
            status = *std::exchange(deferred_, std::nullopt);
        } else {
            status = engine_->read(out, n);
            // A record holds at most 16 KiB: read on while records fill the buffer, so that a
            // large message reaches the app in one call (and goes back in one write and one
            // send), as a plain socket read would.
            while (status == TlsEngine::Status::ok && n < out.size()) {
                std::size_t more = 0;
                auto next = engine_->read(out.subspan(n), more);
                if (next != TlsEngine::Status::ok) {
                    // The engine has moved past a close_notify or an error: keep it for after
                    // the delivery (want_io needs nothing: the next read says it again).
                    if (next != TlsEngine::Status::want_io) deferred_ = next;
                    break;
                }
                n += more;
            }
        }
        if (status == TlsEngine::Status::ok) {
            if (state_ == State::shutting_down) continue;  // closing: drain and discard
            try {
                if (buffered)
                    buffered->buffer_updated(n);
                else
                    app_->data_received(ByteView(out.data(), n));
            } catch (...) {
                callback_failed(buffered ? "Exception in protocol.buffer_updated()" : "Exception in protocol.data_received()");
                return;
            }
            continue;
        }
        flush();  // reading may produce records to send (key updates, alerts)
        if (status == TlsEngine::Status::want_io) {
            // All read: an idle connection keeps no buffer; mid-sized ones stay, which every
            // message would otherwise reallocate, but not what a large transfer grew.
            engine_->trim(idle_buffer_min, idle_buffer_max);
            return;
        }
        if (status == TlsEngine::Status::closed) {  // the peer's close_notify
            if (state_ == State::wrapped) {
                bool keep_open;
                try {
                    keep_open = app_->eof_received();
                } catch (...) {
                    callback_failed("Exception in protocol.eof_received()");
                    return;
                }
                // As over TCP, true keeps our side open: a peer that sent its request and then
                // close_notify (socat at end of input, TLS 1.3 half-close) still gets the reply,
                // and our close_notify follows when the app closes. OpenSSL writes after
                // receiving close_notify; it only refuses after sending one.
                if (keep_open && !closing_ && state_ == State::wrapped) {
                    peer_closed_ = true;
                    return;
                }
            }
            closing_ = true;
            engine_->shutdown();
            flush();
            state_ = State::closed;
            raw_->close();
            return;
        }
        fail(engine_->error());
        return;
    }
    flush();
}

// --- outgoing -------------------------------------------------------------------------------

void TlsProtocol::app_write(ByteView data) {
    if (data.empty()) return;
    if (closing_ || state_ == State::closed || state_ == State::shutting_down) {
        ++dropped_writes;
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

void TlsProtocol::flush() {
    std::string& out = engine_->output();
    if (out.empty() || !raw_) return;
    raw_->write(as_bytes(out));
    out.clear();
}

std::size_t TlsProtocol::write_buffer_size() const noexcept { return pending_.size() + (raw_ ? raw_->get_write_buffer_size() : 0); }

void TlsProtocol::pause_writing() {
    if (!app_connected_ || app_writing_paused_) return;
    app_writing_paused_ = true;
    try {
        app_->pause_writing();
    } catch (...) {
        callback_failed("Exception in protocol.pause_writing()");
    }
}

void TlsProtocol::resume_writing() {
    if (!app_writing_paused_) return;
    app_writing_paused_ = false;
    try {
        app_->resume_writing();
    } catch (...) {
        callback_failed("Exception in protocol.resume_writing()");
    }
}

// --- reading control ------------------------------------------------------------------------

void TlsProtocol::app_pause_reading() {
    if (closing_ || reading_paused_) return;
    reading_paused_ = true;
    raw_->pause_reading();
}

void TlsProtocol::app_resume_reading() {
    if (closing_ || !reading_paused_) return;
    reading_paused_ = false;
    raw_->resume_reading();
    // Records already decrypted or buffered (or the close_notify that ended the last batch) are
    // delivered from the loop, not from this call.
    if (engine_->has_buffered_input() || deferred_)
        loop_.call_soon([this, t = RefPtr<TlsTransport>(app_transport_)] {
            if (t->get_protocol()) process_incoming();  // still attached: this protocol lives
        });
}

// --- closing --------------------------------------------------------------------------------

void TlsProtocol::app_close() {
    if (closing_) return;
    closing_ = true;
    if (state_ == State::wrapped) begin_shutdown();
    else if (state_ != State::handshaking) raw_->close();
    // While handshaking, the shutdown starts once the handshake completes (handshake_done).
}

void TlsProtocol::begin_shutdown() {
    state_ = State::shutting_down;
    reading_paused_ = false;
    raw_->resume_reading();  // the peer's close_notify must be read
    engine_->shutdown();
    flush();
    timer_.cancel();
    if (settings_.shutdown_timeout > Duration::zero())
        timer_ = loop_.call_later(settings_.shutdown_timeout, [this] {
            if (state_ == State::shutting_down) {
                state_ = State::closed;
                raw_->abort();  // the peer never answered: do not wait any longer
            }
        });
    process_incoming();
}

void TlsProtocol::app_abort() {
    closing_ = true;
    state_ = State::closed;
    timer_.cancel();
    raw_->abort();
}

void TlsProtocol::fail(std::error_code ec) noexcept {
    if (!lost_error_) lost_error_ = ec;
    closing_ = true;
    state_ = State::closed;
    timer_.cancel();
    if (raw_) raw_->abort();
}

void TlsProtocol::callback_failed(const char* what) noexcept {
    loop_.call_exception_handler({what, std::current_exception(), app_transport_.get()});
    fail(make_error_code(errc::protocol_callback_failed));
}

void TlsProtocol::connection_lost(std::error_code ec) {
    timer_.cancel();
    state_ = State::closed;
    closing_ = true;
    std::error_code reason = lost_error_ ? lost_error_ : ec;
    if (waiter_ && !waiter_->done()) {
        std::error_code why = reason ? reason : make_error_code(errc::tls_handshake_failed);
        waiter_->set_error(why, "TLS handshake failed");
    }
    waiter_.reset();
    if (app_connected_ && app_) {
        try {
            app_->connection_lost(reason);
        } catch (...) {
            loop_.call_exception_handler({"Exception in protocol.connection_lost()", std::current_exception(),
                                          app_transport_.get()});
        }
    }
    app_.reset();
    if (app_transport_) app_transport_->detach();
}

std::unique_ptr<Protocol> wrap_tls(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                                   std::optional<Future<Connection>> waiter) {
    return std::make_unique<TlsProtocol>(loop, std::move(settings), std::move(app), std::move(waiter), true);
}

bool writing_paused(const Transport& t) noexcept {
    if (auto* s = dynamic_cast<const StreamTransport*>(&t)) return s->writing_paused();
    if (auto* s = dynamic_cast<const TlsTransport*>(&t)) return s->writing_paused();
    return t.get_write_buffer_size() > t.get_write_buffer_limits().high;  // another transport: a guess
}

}  // namespace bulb::detail

namespace bulb {

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                               std::string server_hostname, std::string already_read) {
    if (!transport || transport->is_closing()) throw InvalidStateError("start_tls: the transport is closing");
    if (tls.is_server() != server_side) throw std::invalid_argument("start_tls: context and server_side disagree");
    Future<RefPtr<Transport>> result(*this);
    Future<Connection> handshake(*this);
    handshake.add_done_callback([result](Future<Connection>& f) mutable {
        if (result.done()) return;
        if (auto e = f.exception())
            result.set_exception(e);
        else
            result.set_result(f.result().transport);
    });
    auto* tls_protocol = new detail::TlsProtocol(*this, detail::TlsSettings{tls, server_side, std::move(server_hostname)},
                                                 nullptr, handshake, /*call_connection_made=*/false);
    // Writes the old protocol made may still fill the transport's buffer past high water (they
    // go out before the client hello: the hello is queued behind them). The protocol was then
    // told pause_writing, and the transport's resume_writing now reaches the TLS protocol: it
    // must pass it on, or the app protocol waits for it for ever (asyncio: cpython #109051).
    const bool app_writing_paused = detail::writing_paused(*transport);
    tls_protocol->set_app_protocol(transport->set_protocol(std::unique_ptr<Protocol>(tls_protocol)));
    transport->resume_reading();
    tls_protocol->start(*transport, as_bytes(already_read), app_writing_paused);
    return result;
}

}  // namespace bulb
