// SPDX-License-Identifier: MIT
/// @file
/// PipeTransport: read()/write()/writev() on pipes, FIFOs and character devices (send() is for
/// sockets only), the stream transport's flow control, EPIPE reported through connection_lost,
/// and EventLoop::connect_read_pipe / connect_write_pipe.
#include "pipe_transport.hpp"
#include "protocol_call.hpp"

#include "loop/loop_impl.hpp"
#include "socket_util.hpp"

#include <bulb/loop.hpp>
#include <bulb/pipe.hpp>

#include <event2/event.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace bulb::detail {

namespace {

// Writing to a pipe whose reader is gone raises SIGPIPE whatever the flags (MSG_NOSIGNAL is for
// send() only). The loop ignores SIGPIPE when it is made; a program may have restored the
// default since, so each write pipe checks again: a handler the program installed is left alone
// (it runs, and the write still fails with EPIPE), only the default (death) is replaced.
void ensure_sigpipe_ignored() noexcept {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
        ::signal(SIGPIPE, SIG_IGN);
}

bool transient(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

}  // namespace

void PipeTransport::check_pipe_fd(int fd, const char* who) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw Error(errno, std::system_category(), std::string(who) + ": fd " + std::to_string(fd));
    if (!(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)))
        throw std::invalid_argument(std::string(who) + ": fd " + std::to_string(fd) +
                                    " is not a pipe, FIFO, socket or character device (" +
                                    (S_ISREG(st.st_mode) ? "a regular file" : S_ISDIR(st.st_mode) ? "a directory" : "another kind of file") +
                                    "); epoll cannot watch it: read it with blocking I/O or run_in_executor");
}

PipeTransport* PipeTransport::create(LoopImpl& loop, int fd, Direction dir, std::unique_ptr<Protocol> protocol,
                                     std::optional<Future<Connection>> waiter, bool paused) {
    auto* t = new PipeTransport(loop, fd, dir, std::move(protocol), paused);
    loop.call_soon([t = TransportPtr(t), waiter = std::move(waiter)]() mutable {
        static_cast<PipeTransport*>(t.get())->on_connected(waiter);
    });
    return t;
}

PipeTransport::PipeTransport(LoopImpl& loop, int fd, Direction dir, std::unique_ptr<Protocol> protocol, bool paused)
    : loop_(loop), fd_(fd), dir_(dir), reading_(!paused), protocol_(std::move(protocol)) {
    if (dir_ == Direction::read) {
        read_watch_ = IoWatcher(loop_, fd_, EV_READ, [this] { on_readable(); });
    } else {
        ensure_sigpipe_ignored();
        write_watch_ = IoWatcher(loop_, fd_, EV_WRITE, [this] { on_writable(); });
        struct stat st {};
        if (::fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
            read_watch_ = IoWatcher(loop_, fd_, EV_READ, [this] { on_peer_closed(); });
    }
    add_ref();  // the loop's reference, until connection_lost has returned
    loop_.transports_.push(this);
}

PipeTransport::~PipeTransport() {
    if (fd_ >= 0) ::close(fd_);
}

EventLoop& PipeTransport::get_loop() const noexcept { return loop_.owner(); }

/// Runs one protocol callback through call_protocol (reported with this transport); a throw
/// closes the pipe.
template <class Call>
bool PipeTransport::call(const char* callback, Call&& fn) noexcept {
    if (call_protocol(loop_.owner(), this, callback, std::forward<Call>(fn))) return true;
    force_close(make_error_code(errc::protocol_callback_failed));
    return false;
}

void PipeTransport::on_connected(std::optional<Future<Connection>>& waiter) noexcept {
    if (!call("connection_made", [&] { protocol_->connection_made(*this); })) {
        if (waiter && !waiter->done())
            waiter->set_error(make_error_code(errc::protocol_callback_failed), "connection_made() failed");
        return;
    }
    connected_ = true;
    if (!closing_ && read_watch_.valid() && (dir_ == Direction::write || reading_)) start_watch(read_watch_);
    if (waiter && !waiter->done()) waiter->set_result(Connection{TransportPtr(this)});
    else if (waiter && waiter->cancelled()) close();
}

void PipeTransport::start_watch(IoWatcher& w) noexcept {
    try {
        w.start();
    } catch (const std::system_error& e) {
        force_close(e.code());
    }
}

std::optional<std::string> PipeTransport::get_extra_info(std::string_view name) const {
    if (name == "fd") return std::to_string(fd_);
    if (name == "pipe") return dir_ == Direction::read ? "read" : "write";
    return std::nullopt;
}

// --- reading --------------------------------------------------------------------------------

void PipeTransport::on_readable() noexcept {
    if (closing_ || !reading_) return;
    auto* bp = dynamic_cast<BufferedProtocol*>(protocol_.get());
    std::byte* buf;
    std::size_t cap;
    if (bp) {
        MutableByteView b;
        if (!call("get_buffer", [&] { b = bp->get_buffer(256 * 1024); })) return;
        if (b.empty()) {
            loop_.call_exception_handler({"protocol.get_buffer() returned an empty buffer", nullptr, this});
            force_close(make_error_code(errc::protocol_callback_failed));
            return;
        }
        buf = b.data();
        cap = b.size();
    } else {
        buf = loop_.read_buffer(cap);
    }
    ssize_t n = ::read(fd_, buf, cap);
    if (n > 0) {
        if (bp)
            call("buffer_updated", [&] { bp->buffer_updated(static_cast<std::size_t>(n)); });
        else
            call("data_received", [&] { protocol_->data_received(ByteView(buf, static_cast<std::size_t>(n))); });
    } else if (n == 0) {
        // EOF: the writer closed. asyncio's read pipe closes whatever eof_received() returns
        // (there is no write side to keep open).
        read_watch_.stop();
        if (!call("eof_received", [&] { protocol_->eof_received(); })) return;
        close();
    } else if (!transient(errno)) {
        // A terminal whose session ended reads EIO: that is its EOF, not a failure.
        force_close(errno == EIO ? std::error_code() : last_error());
    }
}

void PipeTransport::pause_reading() {
    if (dir_ != Direction::read || closing_ || !reading_) return;
    reading_ = false;
    read_watch_.stop();
}

void PipeTransport::resume_reading() {
    if (dir_ != Direction::read || closing_ || reading_) return;
    reading_ = true;
    if (connected_) start_watch(read_watch_);
}

// --- writing --------------------------------------------------------------------------------

void PipeTransport::on_peer_closed() noexcept {
    // Readable on a write pipe: the reading end is gone. asyncio: an error only when data is lost.
    if (lost_scheduled_) return;
    if (!buf_.empty())
        force_close(std::error_code(EPIPE, std::system_category()));
    else {
        closing_ = true;
        read_watch_.stop();
        schedule_connection_lost({});
    }
}

bool PipeTransport::write_now(ByteView& data) noexcept {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
        if (!transient(errno)) {
            force_close(last_error());
            return false;
        }
        n = 0;
    }
    data = data.subspan(static_cast<std::size_t>(n));
    return true;
}

void PipeTransport::write(ByteView data) {
    if (dir_ != Direction::write) throw InvalidStateError("write() on a read pipe transport");
    if (eof_requested_) throw InvalidStateError("write() after write_eof()");
    if (data.empty()) return;
    if (closing_) {
        ++dropped_writes_;
        return;
    }
    if (buf_.empty() && (!write_now(data) || data.empty())) return;
    ByteView rest[1] = {data};
    append_and_watch(rest, 0);
}

void PipeTransport::writelines(std::span<const ByteView> buffers) {
    if (dir_ != Direction::write) throw InvalidStateError("writelines() on a read pipe transport");
    if (eof_requested_) throw InvalidStateError("writelines() after write_eof()");
    if (closing_) {
        ++dropped_writes_;
        return;
    }
    std::size_t first = 0;
    std::size_t skip = 0;  // bytes of buffers[first] already written
    if (buf_.empty()) {
        while (first < buffers.size()) {
            iovec iov[64];
            int count = 0;
            std::size_t total = 0;
            for (std::size_t i = first; i < buffers.size() && count < 64; ++i) {
                std::size_t off = i == first ? skip : 0;
                if (buffers[i].size() == off) continue;
                iov[count++] = {const_cast<std::byte*>(buffers[i].data()) + off, buffers[i].size() - off};
                total += buffers[i].size() - off;
            }
            if (count == 0) return;
            ssize_t n = ::writev(fd_, iov, count);
            if (n < 0) {
                if (transient(errno)) break;
                force_close(last_error());
                return;
            }
            std::size_t done = static_cast<std::size_t>(n);
            while (first < buffers.size() && done >= buffers[first].size() - skip) {
                done -= buffers[first].size() - skip;
                skip = 0;
                ++first;
            }
            skip += done;
            if (static_cast<std::size_t>(n) < total) break;  // the pipe is full
        }
    }
    if (first < buffers.size()) append_and_watch(buffers.subspan(first), skip);
}

void PipeTransport::append_and_watch(std::span<const ByteView> rest, std::size_t skip) noexcept {
    bool was_empty = buf_.empty();
    try {
        for (std::size_t i = 0; i < rest.size(); ++i) buf_.append(i == 0 ? rest[i].subspan(skip) : rest[i]);
    } catch (const std::bad_alloc&) {
        force_close(std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    if (was_empty && !buf_.empty()) {
        start_watch(write_watch_);
        if (lost_scheduled_) return;
    }
    maybe_pause_protocol();
}

void PipeTransport::on_writable() noexcept {
    if (fd_ < 0 || buf_.empty() || lost_scheduled_) {
        write_watch_.stop();
        return;
    }
    ByteView pending = buf_.view();
    ssize_t n = ::write(fd_, pending.data(), pending.size());
    if (n < 0) {
        if (!transient(errno)) force_close(last_error());
        return;
    }
    buf_.consume(static_cast<std::size_t>(n));
    maybe_resume_protocol();
    if (!buf_.empty() || lost_scheduled_) return;
    write_watch_.stop();
    if (closing_ || eof_requested_) {  // a pipe has no half-close: write_eof() closes it
        closing_ = true;
        read_watch_.stop();
        schedule_connection_lost({});
    }
}

void PipeTransport::write_eof() {
    if (dir_ != Direction::write) throw InvalidStateError("write_eof() on a read pipe transport");
    if (closing_ || eof_requested_) return;
    eof_requested_ = true;
    if (buf_.empty()) close();
}

// --- flow control ---------------------------------------------------------------------------

void PipeTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
    std::size_t l = low ? *low : h / 4;
    if (h < l) throw std::invalid_argument("set_write_buffer_limits: high must be >= low");
    limits_ = {h, l};
    maybe_pause_protocol();
    maybe_resume_protocol();
}

void PipeTransport::maybe_pause_protocol() noexcept {
    if (writing_paused_ || buf_.size() <= limits_.high || !protocol_) return;
    writing_paused_ = true;
    call("pause_writing", [&] { protocol_->pause_writing(); });
}

void PipeTransport::maybe_resume_protocol() noexcept {
    if (!writing_paused_ || buf_.size() > limits_.low || lost_scheduled_) return;
    writing_paused_ = false;
    call("resume_writing", [&] { protocol_->resume_writing(); });
}

// --- closing --------------------------------------------------------------------------------

void PipeTransport::close() {
    if (closing_) return;
    closing_ = true;
    if (dir_ == Direction::read) read_watch_.stop();
    if (buf_.empty()) {
        read_watch_.stop();
        schedule_connection_lost({});
    }
}

void PipeTransport::abort() { force_close({}); }

void PipeTransport::close_for_loop() noexcept {
    if (lost_scheduled_) return;
    if (!quiet_on_loop_close_)
        loop_.call_exception_handler({"unclosed transport aborted by EventLoop::close()", nullptr, this});
    force_close(make_error_code(errc::loop_closed));
}


void PipeTransport::force_close(std::error_code ec) noexcept {
    if (lost_scheduled_) return;
    closing_ = true;
    read_watch_.stop();
    write_watch_.stop();
    buf_.clear();
    schedule_connection_lost(ec);
}

void PipeTransport::schedule_connection_lost(std::error_code ec) noexcept {
    lost_scheduled_ = true;
    call_soon_or_now(loop_, [t = TransportPtr(this), ec] { static_cast<PipeTransport*>(t.get())->call_connection_lost(ec); });
}

void PipeTransport::call_connection_lost(std::error_code ec) noexcept {
    call_protocol(loop_.owner(), this, "connection_lost", [&] { protocol_->connection_lost(ec); });
    read_watch_.reset();
    write_watch_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    protocol_.reset();
    loop_.transports_.remove(this);
    release_ref();  // the loop's reference: may destroy this
}

std::unique_ptr<Protocol> PipeTransport::set_protocol(std::unique_ptr<Protocol> protocol) {
    if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
    if (lost_scheduled_ && !protocol_) return protocol;  // inert after connection_lost
    std::swap(protocol, protocol_);
    return protocol;
}

}  // namespace bulb::detail

namespace bulb {

namespace {

Future<Connection> connect_pipe(EventLoop& loop, ProtocolFactory& factory, int fd,
                                detail::PipeTransport::Direction dir, const char* who) {
    if (loop.is_closed()) throw InvalidStateError(std::string(who) + ": Event loop is closed");
    detail::PipeTransport::check_pipe_fd(fd, who);
    detail::set_nonblocking(fd);
    auto protocol = factory();
    if (!protocol) throw std::invalid_argument(std::string(who) + ": protocol factory returned null");
    Future<Connection> result(loop);
    detail::PipeTransport::create(loop.impl(), fd, dir, std::move(protocol), result);
    return result;
}

}  // namespace

Future<Connection> EventLoop::connect_read_pipe(ProtocolFactory factory, int fd) {
    return connect_pipe(*this, factory, fd, detail::PipeTransport::Direction::read, "connect_read_pipe");
}

Future<Connection> EventLoop::connect_write_pipe(ProtocolFactory factory, int fd) {
    return connect_pipe(*this, factory, fd, detail::PipeTransport::Direction::write, "connect_write_pipe");
}

void detail::set_pipe_size(int fd, std::size_t bytes) noexcept {
    if (bytes == 0) return;
    static const std::size_t max_size = [] {
        std::size_t m = 1024 * 1024;  // the kernel's default pipe-max-size
        if (std::FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "re")) {
            unsigned long v = 0;
            if (std::fscanf(f, "%lu", &v) == 1 && v > 0) m = v;
            std::fclose(f);
        }
        return m;
    }();
    if (bytes > max_size) bytes = max_size;
    if (bytes > static_cast<std::size_t>(INT_MAX)) bytes = static_cast<std::size_t>(INT_MAX);
    (void)::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes));
}

PipeFds make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(errno, std::system_category(), "make_pipe: pipe2");
    return {fds[0], fds[1]};
}

}  // namespace bulb
