// SPDX-License-Identifier: MIT
/// @file
/// MemoryTransport: delivery through the loop's ready queue, flow control, EOF, close and reset.
#include "memory_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace bulb_test {
namespace {

/// One delivery hands the peer at most this much, as one socket read would: a large write
/// arrives in several data_received calls, one per loop iteration.
constexpr std::size_t chunk_size = 64 * 1024;

std::size_t live = 0;

}  // namespace

std::size_t MemoryTransport::live_count() noexcept { return live; }

MemoryTransport::MemoryTransport(bulb::EventLoop& loop, std::unique_ptr<bulb::Protocol> protocol)
    : loop_(loop), protocol_(std::move(protocol)) {
    if (!protocol_) throw std::invalid_argument("MemoryTransport: null protocol");
    ++live;
    add_ref();  // our own reference, until connection_lost has returned
}

MemoryTransport::~MemoryTransport() { --live; }

std::pair<bulb::TransportPtr, bulb::TransportPtr> MemoryTransport::pair(bulb::EventLoop& loop,
                                                                        std::unique_ptr<bulb::Protocol> a,
                                                                        std::unique_ptr<bulb::Protocol> b) {
    bulb::RefPtr<MemoryTransport> ta(new MemoryTransport(loop, std::move(a)));
    bulb::RefPtr<MemoryTransport> tb(new MemoryTransport(loop, std::move(b)));
    ta->peer_ = tb;
    tb->peer_ = ta;
    for (auto& t : {ta, tb}) {
        loop.call_soon([t] {
            if (t->lost_scheduled_) return;  // aborted before the loop ran
            t->connected_ = true;
            if (!t->call("connection_made", [&] { t->protocol_->connection_made(*t); })) return;
            t->schedule_transfer();                     // what it wrote in connection_made
            if (t->peer_) t->peer_->schedule_transfer();  // what the peer wrote before we were ready
        });
    }
    return {bulb::TransportPtr(ta.get()), bulb::TransportPtr(tb.get())};
}

template <class Call>
bool MemoryTransport::call(const char* callback, Call&& fn) noexcept {
    try {
        std::forward<Call>(fn)();
        return true;
    } catch (...) {
        loop_.call_exception_handler(
            {std::string("Exception in protocol.") + callback + "()", std::current_exception(), this});
        reset(bulb::make_error_code(bulb::errc::protocol_callback_failed));  // as the socket transports
        return false;
    }
}

// --- writing --------------------------------------------------------------------------------

void MemoryTransport::write(bulb::ByteView data) {
    if (eof_wanted_ && !closing_) throw bulb::InvalidStateError("write() after write_eof()");
    if (data.empty()) return;
    if (closing_) {
        ++dropped_;
        return;
    }
    out_.append(reinterpret_cast<const char*>(data.data()), data.size());
    schedule_transfer();
    maybe_pause();
}

void MemoryTransport::writelines(std::span<const bulb::ByteView> buffers) {
    for (auto b : buffers) write(b);
}

void MemoryTransport::write_eof() {
    if (closing_ || eof_wanted_) return;
    eof_wanted_ = true;
    schedule_transfer();
}

void MemoryTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    const std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
    const std::size_t l = low ? *low : h / 4;
    if (h < l) throw std::invalid_argument("set_write_buffer_limits: high must be >= low");
    limits_ = {h, l};
    maybe_pause();
    maybe_resume();
}

void MemoryTransport::maybe_pause() noexcept {
    if (writing_paused_ || out_.size() <= limits_.high || !protocol_ || lost_scheduled_) return;
    writing_paused_ = true;
    call("pause_writing", [&] { protocol_->pause_writing(); });
}

void MemoryTransport::maybe_resume() noexcept {
    if (!writing_paused_ || out_.size() > limits_.low || lost_scheduled_) return;
    writing_paused_ = false;
    call("resume_writing", [&] { protocol_->resume_writing(); });
}

// --- delivery -------------------------------------------------------------------------------

void MemoryTransport::schedule_transfer() {
    if (transfer_scheduled_ || lost_scheduled_) return;
    if (out_.empty() && !(eof_wanted_ && !eof_sent_) && !closing_) return;
    transfer_scheduled_ = true;
    loop_.call_soon([self = bulb::RefPtr<MemoryTransport>(this)] { self->transfer(); });
}

void MemoryTransport::transfer() noexcept {
    transfer_scheduled_ = false;
    if (lost_scheduled_ || !connected_) return;
    bulb::RefPtr<MemoryTransport> peer = peer_;
    if (!peer || peer->lost_scheduled_) {
        // The peer is gone: bytes still to send cannot arrive (a socket would see a reset).
        if (!out_.empty()) {
            out_.clear();
            schedule_lost(std::make_error_code(std::errc::connection_reset));
        } else if (closing_) {
            schedule_lost({});
        }
        return;
    }
    if (!peer->connected_) return;  // its connection_made schedules us again
    if (!out_.empty() && peer->reading_ && !peer->closing_ && !peer->eof_received_) {
        const std::size_t n = std::min(out_.size(), chunk_size);
        const std::string chunk = out_.substr(0, n);  // the callbacks may write to us meanwhile
        out_.erase(0, n);
        peer->call("data_received", [&] {
            peer->protocol_->data_received(bulb::ByteView(reinterpret_cast<const std::byte*>(chunk.data()), n));
        });
        maybe_resume();
        if (!out_.empty()) {
            schedule_transfer();  // the rest on the next iteration, as the next read would
            return;
        }
    }
    if (!out_.empty()) return;  // the peer paused reading: back-pressure; resume_reading calls us
    if (eof_wanted_ && !eof_sent_) {
        if (!peer->reading_) return;  // as a FIN: seen once the peer reads again
        eof_sent_ = true;
        peer->peer_eof();
    }
    if (closing_ && eof_sent_) schedule_lost({});
}

void MemoryTransport::peer_eof() noexcept {
    if (lost_scheduled_ || closing_) return;
    eof_received_ = true;
    bool keep_open = false;
    if (!call("eof_received", [&] { keep_open = protocol_->eof_received(); })) return;
    if (!keep_open) close();
}

// --- reading control ------------------------------------------------------------------------

void MemoryTransport::pause_reading() {
    if (closing_ || !reading_) return;
    reading_ = false;
}

void MemoryTransport::resume_reading() {
    if (closing_ || reading_) return;
    reading_ = true;
    if (peer_) peer_->schedule_transfer();
}

// --- closing --------------------------------------------------------------------------------

void MemoryTransport::close() {
    if (closing_) return;
    closing_ = true;
    eof_wanted_ = true;  // the peer sees our FIN after what is buffered
    schedule_transfer();
}

void MemoryTransport::abort() { reset({}); }

void MemoryTransport::reset(std::error_code own) noexcept {
    if (lost_scheduled_) return;
    closing_ = true;
    out_.clear();
    schedule_lost(own);
    if (bulb::RefPtr<MemoryTransport> peer = peer_; peer && !peer->lost_scheduled_) {
        peer->closing_ = true;
        peer->out_.clear();
        peer->schedule_lost(std::make_error_code(std::errc::connection_reset));
    }
}

void MemoryTransport::schedule_lost(std::error_code ec) noexcept {
    if (lost_scheduled_) return;
    lost_scheduled_ = true;
    closing_ = true;
    try {
        loop_.call_soon([self = bulb::RefPtr<MemoryTransport>(this), ec] { self->lose(ec); });
    } catch (...) {
        lose(ec);  // the loop is closing: deliver now rather than never
    }
}

void MemoryTransport::lose(std::error_code ec) noexcept {
    if (connected_) {
        try {
            protocol_->connection_lost(ec);
        } catch (...) {
            loop_.call_exception_handler({"Exception in protocol.connection_lost()", std::current_exception(), this});
        }
    }
    protocol_.reset();
    // The two sides hold each other: the cycle ends here. The peer learns we are gone at its
    // next transfer (bytes it still had for us are then a reset).
    if (bulb::RefPtr<MemoryTransport> peer = std::exchange(peer_, nullptr)) peer->schedule_transfer();
    release_ref();  // our own reference: may destroy this
}

std::unique_ptr<bulb::Protocol> MemoryTransport::set_protocol(std::unique_ptr<bulb::Protocol> protocol) {
    if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
    if (!protocol_) return protocol;  // lost: inert
    std::swap(protocol, protocol_);
    return protocol;
}

}  // namespace bulb_test
