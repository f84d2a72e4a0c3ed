// SPDX-License-Identifier: MIT
/// @file
/// StreamTransport: reading into the loop's buffer, write-through with buffering of the rest,
/// flow control, half-close, close/abort and the exactly-once connection_lost.
#include "stream_transport.hpp"

#include "loop/loop_impl.hpp"
#include "protocol_call.hpp"
#include "server_impl.hpp"
#include "socket_util.hpp"

#include <event2/event.h>

#include <algorithm>
#include <climits>
#include <vector>

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace bulb::detail {

template <class Call>
bool StreamTransport::call(const char* callback, Call&& fn) noexcept {
    if (call_protocol(loop_.owner(), this, callback, std::forward<Call>(fn))) return true;
    force_close(make_error_code(errc::protocol_callback_failed), true);  // as asyncio: the connection goes
    return false;
}

StreamTransport* StreamTransport::create(LoopImpl& loop, int fd, std::unique_ptr<Protocol> protocol,
                                         ServerImpl* server, std::optional<Future<Connection>> waiter) {
    auto* t = new StreamTransport(loop, fd, std::move(protocol), server);
    loop.call_soon([t = TransportPtr(t), waiter = std::move(waiter)]() mutable {
        static_cast<StreamTransport*>(t.get())->on_connected(waiter);
    });
    return t;
}

StreamTransport::StreamTransport(LoopImpl& loop, int fd, std::unique_ptr<Protocol> protocol, ServerImpl* server)
    : loop_(loop), fd_(fd), protocol_(std::move(protocol)), server_(server) {
    buffered_ = dynamic_cast<BufferedProtocol*>(protocol_.get()) != nullptr;
    set_nodelay(fd_);
    read_watch_ = IoWatcher(loop_, fd_, EV_READ, [this] { on_readable(); });
    add_ref();  // the loop's reference, until connection_lost has returned
    loop_.transports_.push(this);
    if (server_) server_->attach(this);
}

StreamTransport::~StreamTransport() {
    if (fd_ >= 0) ::close(fd_);
}

EventLoop& StreamTransport::get_loop() const noexcept { return loop_.owner(); }

void StreamTransport::on_connected(std::optional<Future<Connection>>& waiter) noexcept {
    if (!call_protocol(loop_.owner(), this, "connection_made", [&] { protocol_->connection_made(*this); })) {
        force_close(make_error_code(errc::protocol_callback_failed), true);
        if (waiter && !waiter->done())
            waiter->set_error(make_error_code(errc::protocol_callback_failed), "connection_made() failed");
        return;
    }
    if (!closing_ && reading_) start_reading();
    if (waiter && !waiter->done()) waiter->set_result(Connection{TransportPtr(this)});
    else if (waiter && waiter->cancelled()) close();  // nobody wants the connection any more
}

void StreamTransport::start_reading() {
    try {
        read_watch_.start();
    } catch (const std::system_error& e) {
        fatal_error(e.code());
    }
}

// --- reading --------------------------------------------------------------------------------

void StreamTransport::on_readable() noexcept {
    if (closing_ || !reading_ || eof_received_) return;
    std::byte* buf;
    std::size_t cap;
    BufferedProtocol* const bp = buffered();
    if (bp) {
        MutableByteView b;
        if (!call("get_buffer", [&] { b = bp->get_buffer(256 * 1024); })) return;
        if (b.empty()) {
            loop_.call_exception_handler({"protocol.get_buffer() returned an empty buffer", nullptr, this});
            force_close(make_error_code(errc::protocol_callback_failed), true);
            return;
        }
        buf = b.data();
        cap = b.size();
    } else {
        buf = loop_.read_buffer(cap);
    }
    ssize_t n = ::recv(fd_, buf, cap, 0);
    if (n > 0) {
        const auto got = static_cast<std::size_t>(n);
        if (bp)
            call("buffer_updated", [&] { bp->buffer_updated(got); });
        else
            call("data_received", [&] { protocol_->data_received(ByteView(buf, got)); });
    } else if (n == 0) {
        on_eof();
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fatal_error(last_error());
    }
}

void StreamTransport::on_eof() noexcept {
    eof_received_ = true;
    read_watch_.stop();
    bool keep_open = false;
    if (!call("eof_received", [&] { keep_open = protocol_->eof_received(); })) return;
    if (!keep_open) close();
}

void StreamTransport::pause_reading() {
    if (closing_ || !reading_) return;
    reading_ = false;
    read_watch_.stop();
}

void StreamTransport::resume_reading() {
    if (closing_ || reading_) return;
    reading_ = true;
    if (!eof_received_ && !sending_file()) start_reading();  // a sendfile restarts it when done
}

// --- writing --------------------------------------------------------------------------------

void StreamTransport::write(ByteView data) {
    if (eof_requested_) throw InvalidStateError("write() after write_eof()");
    if (sending_file()) throw InvalidStateError("write(): unable to write, sendfile is in progress");
    if (data.empty()) return;
    if (closing_) {
        ++dropped_writes_;
        return;
    }
    if (!write_pending()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fatal_error(last_error());
                return;
            }
            n = 0;
        }
        if (static_cast<std::size_t>(n) == data.size()) return;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    buffer_rest(data);
}

void StreamTransport::writelines(std::span<const ByteView> buffers) {
    if (eof_requested_) throw InvalidStateError("writelines() after write_eof()");
    if (sending_file()) throw InvalidStateError("writelines(): unable to write, sendfile is in progress");
    if (closing_) {
        ++dropped_writes_;
        return;
    }
    std::size_t first = 0;
    std::size_t skip = 0;  // bytes of buffers[first] already sent
    if (!write_pending()) {
        iovec iov[64];
        while (first < buffers.size()) {
            std::size_t count = 0;
            std::size_t total = 0;
            for (std::size_t i = first; i < buffers.size() && count < 64; ++i) {
                if (buffers[i].empty()) continue;
                std::size_t off = i == first ? skip : 0;
                iov[count++] = {const_cast<std::byte*>(buffers[i].data()) + off, buffers[i].size() - off};
                total += buffers[i].size() - off;
            }
            if (count == 0) return;
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = count;
            ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                fatal_error(last_error());
                return;
            }
            std::size_t sent = static_cast<std::size_t>(n);
            while (first < buffers.size() && sent >= buffers[first].size() - skip) {
                sent -= buffers[first].size() - skip;
                skip = 0;
                ++first;
            }
            skip += sent;
            if (static_cast<std::size_t>(n) < total) break;  // the socket is full
        }
    }
    if (first >= buffers.size()) return;
    WriteSide& w = write_side();
    bool was_empty = w.buf.empty();
    w.buf.append(buffers[first].subspan(skip));
    for (std::size_t i = first + 1; i < buffers.size(); ++i) w.buf.append(buffers[i]);
    if (was_empty && !w.buf.empty() && !start_write_watch()) return;
    maybe_pause_protocol();
}

void StreamTransport::buffer_rest(ByteView rest) {
    WriteSide& w = write_side();
    bool was_empty = w.buf.empty();
    w.buf.append(rest);
    if (was_empty && !start_write_watch()) return;
    maybe_pause_protocol();
}

StreamTransport::WriteSide& StreamTransport::write_side() {
    if (!w_) w_ = std::make_unique<WriteSide>();
    return *w_;
}

bool StreamTransport::start_write_watch() noexcept {
    try {
        if (!w_->watch.valid()) w_->watch = IoWatcher(loop_, fd_, EV_WRITE, [this] { on_writable(); });
        w_->watch.start();
        return true;
    } catch (const std::system_error& e) {
        fatal_error(e.code());
        return false;
    }
}

void StreamTransport::on_writable() noexcept {
    if (fd_ < 0 || (!write_pending() && !sending_file())) {
        if (w_) w_->watch.stop();
        return;
    }
    if (write_pending()) {
        WriteBuffer& wbuf = w_->buf;
        ByteView pending = wbuf.view();
        ssize_t n = ::send(fd_, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fatal_error(last_error());
            return;
        }
        wbuf.consume(static_cast<std::size_t>(n));
        maybe_resume_protocol();
        if (!w_->buf.empty() || lost_scheduled_) return;
    }
    if (sending_file() && !pump_file()) return;  // the file goes on when the socket is writable
    if (lost_scheduled_ || !w_ || !w_->buf.empty()) return;
    w_->watch.stop();
    if (closing_) {
        schedule_connection_lost({});
    } else if (eof_requested_ && !eof_sent_) {
        eof_sent_ = true;
        ::shutdown(fd_, SHUT_WR);
    }
}

void StreamTransport::write_eof() {
    if (closing_ || eof_requested_) return;
    if (sending_file()) throw InvalidStateError("write_eof(): sendfile is in progress");
    eof_requested_ = true;
    if (!write_pending()) {
        eof_sent_ = true;
        ::shutdown(fd_, SHUT_WR);
    }
}

// --- sendfile -------------------------------------------------------------------------------

Future<std::uint64_t> StreamTransport::do_sendfile(int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                                                   bool fallback) {
    if (eof_requested_) throw InvalidStateError("sendfile() after write_eof()");
    if (sending_file()) throw InvalidStateError("sendfile: another sendfile is in progress on " + describe());
    Future<std::uint64_t> result(loop_.owner());
    WriteSide& w = write_side();
    w.file = std::make_unique<FileSend>(FileSend{fd, offset, count, result, fallback});
    read_watch_.stop();  // as asyncio: no reading while the file goes out (reading_ is kept)
    if (!write_pending() && pump_file()) return result;  // all sent (or failed) at once
    if (sending_file()) start_write_watch();
    return result;
}

bool StreamTransport::pump_file() noexcept {
    // At most this much per turn, so one fast reader cannot keep the loop to itself.
    constexpr std::uint64_t per_turn = 2 * 1024 * 1024;
    FileSend& f = *w_->file;
    std::uint64_t this_turn = 0;
    for (;;) {
        std::uint64_t want = f.count ? *f.count - f.sent : per_turn;
        if (want == 0) {
            end_file({}, nullptr);
            return true;
        }
        if (this_turn >= per_turn) return false;  // the socket is still writable: next iteration
        auto chunk = static_cast<std::size_t>(std::min(want, per_turn - this_turn));
        auto at = static_cast<off_t>(f.offset + f.sent);
        ssize_t n = ::sendfile(fd_, f.fd, &at, chunk);
        if (n > 0) {
            f.sent += static_cast<std::uint64_t>(n);
            this_turn += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) {  // end of file: fewer bytes than asked, as asyncio reports them
            end_file({}, nullptr);
            return true;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return false;
        if (err == EINTR) continue;
        if ((err == EINVAL || err == ENOSYS) && f.sent == 0) {  // this file cannot be sent with sendfile(2)
            fall_back();
            return true;
        }
        fatal_error(std::error_code(err, std::system_category()));  // ends the file with the error
        return true;
    }
}

void StreamTransport::fall_back() noexcept {
    std::unique_ptr<FileSend> f = std::move(w_->file);
    if (w_->buf.empty()) w_->watch.stop();
    if (!closing_ && reading_ && !eof_received_) start_reading();
    try {
        if (!f->fallback) {
            f->result.set_error(make_error_code(errc::sendfile_not_available),
                                "sendfile of fd " + std::to_string(f->fd) + ": sendfile(2) refused the file");
            return;
        }
        Future<std::uint64_t> result = f->result;
        Future<std::uint64_t> slow = sendfile_fallback(f->fd, f->offset, f->count);
        slow.add_done_callback([result](Future<std::uint64_t>& done) mutable {
            if (result.done()) return;
            try {
                result.set_result(done.result());
            } catch (...) {
                result.set_exception(std::current_exception());
            }
        });
    } catch (...) {
        if (!f->result.done()) f->result.set_exception(std::current_exception());
    }
}

void StreamTransport::end_file(std::error_code ec, const char* what) noexcept {
    std::unique_ptr<FileSend> f = std::move(w_->file);
    if (w_->buf.empty()) w_->watch.stop();
    if (!closing_ && reading_ && !eof_received_) start_reading();
    if (f->result.done()) return;  // cancelled by its owner: the bytes went anyway
    try {
        if (!ec) {
            f->result.set_result(f->sent);
        } else {
            f->result.set_error(ec, "sendfile of fd " + std::to_string(f->fd) + " to " + describe() + ": " + what +
                                        " after " + std::to_string(f->sent) + " bytes");
        }
    } catch (...) {
        f->result.set_error(ec, what);
    }
}

// --- flow control ---------------------------------------------------------------------------

void StreamTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
    std::size_t l = low ? *low : h / 4;
    if (h < l) throw std::invalid_argument("set_write_buffer_limits: high must be >= low");
    write_side().limits = {h, l};
    maybe_pause_protocol();
    maybe_resume_protocol();
}

void StreamTransport::maybe_pause_protocol() noexcept {
    if (writing_paused_ || !w_ || w_->buf.size() <= w_->limits.high || !protocol_) return;
    writing_paused_ = true;
    call("pause_writing", [&] { protocol_->pause_writing(); });
}

void StreamTransport::maybe_resume_protocol() noexcept {
    if (!writing_paused_ || (w_ && w_->buf.size() > w_->limits.low) || lost_scheduled_) return;
    writing_paused_ = false;
    call("resume_writing", [&] { protocol_->resume_writing(); });
}

// --- closing --------------------------------------------------------------------------------

void StreamTransport::close() {
    if (closing_) return;
    closing_ = true;
    read_watch_.stop();
    if (sending_file()) end_file(make_error_code(errc::transport_closed), "the transport was closed");
    if (!write_pending()) schedule_connection_lost({});
}

void StreamTransport::abort() { force_close({}, true); }

void StreamTransport::close_for_loop() noexcept {
    if (lost_scheduled_) return;
    loop_.call_exception_handler({"unclosed transport aborted by EventLoop::close()", nullptr, this});
    force_close(make_error_code(errc::loop_closed), true);
}

void StreamTransport::fatal_error(std::error_code ec) noexcept { force_close(ec, false); }


void StreamTransport::force_close(std::error_code ec, bool reset) noexcept {
    if (lost_scheduled_) return;
    closing_ = true;
    read_watch_.stop();
    if (sending_file())
        end_file(ec ? ec : make_error_code(errc::transport_closed), ec ? "the connection failed" : "the transport was aborted");
    if (w_) {
        w_->watch.stop();
        w_->buf.clear();
    }
    if (reset && fd_ >= 0) {
        linger lg{1, 0};  // the peer sees RST, not FIN
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    schedule_connection_lost(ec);
}

void StreamTransport::schedule_connection_lost(std::error_code ec) noexcept {
    lost_scheduled_ = true;
    call_soon_or_now(loop_, [t = TransportPtr(this), ec] { static_cast<StreamTransport*>(t.get())->call_connection_lost(ec); });
}

void StreamTransport::call_connection_lost(std::error_code ec) noexcept {
    call_protocol(loop_.owner(), this, "connection_lost", [&] { protocol_->connection_lost(ec); });
    read_watch_.reset();
    if (w_) w_->watch.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    protocol_.reset();
    buffered_ = false;
    loop_.transports_.remove(this);
    if (ServerImpl* s = std::exchange(server_, nullptr)) s->detach(this);
    release_ref();  // the loop's reference: may destroy this
}

// --- information ----------------------------------------------------------------------------

SocketAddress StreamTransport::get_peername() const { return fd_ >= 0 ? peer_address(fd_) : SocketAddress(); }
SocketAddress StreamTransport::get_sockname() const { return fd_ >= 0 ? local_address(fd_) : SocketAddress(); }

std::unique_ptr<Protocol> StreamTransport::set_protocol(std::unique_ptr<Protocol> protocol) {
    if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
    // Once connection_lost has run the transport is inert: hand the protocol back (as TLS
    // transports do) rather than keep one alive that nothing will ever call.
    if (lost_scheduled_ && !protocol_) return protocol;
    std::swap(protocol, protocol_);
    buffered_ = dynamic_cast<BufferedProtocol*>(protocol_.get()) != nullptr;
    return protocol;
}

}  // namespace bulb::detail
