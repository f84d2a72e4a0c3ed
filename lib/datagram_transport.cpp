// SPDX-License-Identifier: MIT
/// @file
/// UdpTransport: receiving in recvmmsg batches, send-through with whole-datagram queueing,
/// flow control, error_received for per-datagram errors and the exactly-once connection_lost.
#include "datagram_transport.hpp"

#include "loop/loop_impl.hpp"
#include "protocol_call.hpp"
#include "socket_util.hpp"

#include <event2/event.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulb {

DatagramProtocol::~DatagramProtocol() = default;
void DatagramProtocol::connection_made(DatagramTransport&) {}
void DatagramProtocol::datagram_received(ByteView, const SocketAddress&) {}
void DatagramProtocol::error_received(std::error_code, const SocketAddress&) {}
void DatagramProtocol::connection_lost(std::error_code) {}
void DatagramProtocol::pause_writing() {}
void DatagramProtocol::resume_writing() {}

std::optional<std::string> DatagramTransport::get_extra_info(std::string_view name) const {
    if (name == "peername") {
        SocketAddress p = get_peername();
        if (p.family() == AF_UNSPEC) return std::nullopt;
        return p.to_string();
    }
    if (name == "sockname") return get_sockname().to_string();
    if (name == "fd") return std::to_string(get_fd());
    return std::nullopt;
}

namespace detail {
namespace {

// IP datagrams are received in batches of kBatch with one recvmmsg call into slots of 64 KiB:
// larger than any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6), so no UDP datagram is
// ever cut. The slots are per thread (one loop runs per thread at a time) and allocated on first
// use; the kernel touches only the pages a datagram fills.
constexpr std::size_t kBatch = 16;
constexpr unsigned kSingleRun = 16;  // recvmsg wake-ups after a batch of one datagram
constexpr std::size_t kSlot = 64 * 1024;
constexpr std::size_t kHeaderCost = 8;  // asyncio counts each queued datagram's header too

struct BatchBuffers {
    std::byte* data = nullptr;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage names[kBatch];
    ~BatchBuffers() { std::free(data); }
};

// Replies sent from datagram_received while a batch of several is delivered: copied here and sent
// together with one sendmmsg when the batch ends, so a busy server makes two system calls per
// batch instead of one per reply. Per thread, like BatchBuffers: one batch is open at a time.
constexpr std::size_t kMaxReplies = 64;
struct ReplyBuffers {
    std::vector<std::byte> bytes;
    std::size_t offset[kMaxReplies];
    std::size_t size[kMaxReplies];
    SocketAddress addr[kMaxReplies];  // AF_UNSPEC: the connected peer
    mmsghdr msgs[kMaxReplies];
    iovec iov[kMaxReplies];
    std::size_t count = 0;
};

ReplyBuffers& reply_buffers() {
    thread_local ReplyBuffers r;
    return r;
}

BatchBuffers& batch_buffers() {
    thread_local BatchBuffers b;
    if (!b.data) {
        b.data = static_cast<std::byte*>(std::malloc(kBatch * kSlot));
        if (!b.data) throw std::bad_alloc();
    }
    return b;
}

bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ENOBUFS; }

/// The largest payload the protocol can carry, or 0 when only the kernel knows (Unix sockets).
std::size_t protocol_max_payload(int family) noexcept {
    if (family == AF_INET) return 65535 - 20 - 8;
    if (family == AF_INET6) return 65535 - 8;
    return 0;
}

}  // namespace

template <class Call>
void UdpTransport::call(const char* callback, Call&& c) noexcept {
    if (!call_protocol(loop_.owner(), this, callback, std::forward<Call>(c)))
        force_close(make_error_code(errc::protocol_callback_failed));
}

UdpTransport* UdpTransport::create(LoopImpl& loop, int fd, std::unique_ptr<DatagramProtocol> protocol,
                                   const SocketAddress& remote, std::optional<BoundUnixFile> unix_file,
                                   std::optional<Future<DatagramConnection>> waiter) {
    auto* t = new UdpTransport(loop, fd, std::move(protocol), remote, std::move(unix_file));
    loop.call_soon([t = DatagramTransportPtr(t), waiter = std::move(waiter)]() mutable {
        static_cast<UdpTransport*>(t.get())->on_connected(waiter);
    });
    return t;
}

UdpTransport::UdpTransport(LoopImpl& loop, int fd, std::unique_ptr<DatagramProtocol> protocol,
                           const SocketAddress& remote, std::optional<BoundUnixFile> unix_file)
    : loop_(loop), fd_(fd), protocol_(std::move(protocol)), remote_(remote) {
    family_ = local_address(fd_).family();
    if (unix_file) unix_file_ = std::make_unique<BoundUnixFile>(std::move(*unix_file));
    read_watch_ = IoWatcher(loop_, fd_, EV_READ, [this] { on_readable(); });
    add_ref();  // the loop's reference, until connection_lost has returned
    loop_.transports_.push(this);
}

UdpTransport::~UdpTransport() {
    if (fd_ >= 0) ::close(fd_);
}

EventLoop& UdpTransport::get_loop() const noexcept { return loop_.owner(); }

SocketAddress UdpTransport::get_sockname() const { return fd_ >= 0 ? local_address(fd_) : SocketAddress(); }

void UdpTransport::on_connected(std::optional<Future<DatagramConnection>>& waiter) noexcept {
    if (!call_protocol(loop_.owner(), this, "connection_made", [&] { protocol_->connection_made(*this); })) {
        force_close(make_error_code(errc::protocol_callback_failed));
        if (waiter && !waiter->done())
            waiter->set_error(make_error_code(errc::protocol_callback_failed), "connection_made() failed");
        return;
    }
    if (!closing_) {
        try {
            read_watch_.start();
        } catch (const std::system_error& e) {
            force_close(e.code());
        }
    }
    if (waiter && !waiter->done()) waiter->set_result(DatagramConnection{DatagramTransportPtr(this)});
    else if (waiter && waiter->cancelled()) close();  // nobody wants the endpoint any more
}

// --- receiving ------------------------------------------------------------------------------

void UdpTransport::on_readable() noexcept {
    if (closing_) return;
    if (family_ == AF_INET || family_ == AF_INET6) receive_batch();
    else receive_one();
}

void UdpTransport::receive_batch() noexcept {
    BatchBuffers* b;
    try {
        b = &batch_buffers();
    } catch (...) {
        force_close(std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    // One datagram per wake-up (a lone request/response peer): recvmsg, cheaper in the kernel
    // than recvmmsg; recvmmsg again every kSingleRun wake-ups to notice a queue building up.
    const bool single = single_left_ > 0;
    const std::size_t slots = single ? 1 : kBatch;
    for (std::size_t i = 0; i < slots; ++i) {
        b->iov[i] = {b->data + i * kSlot, kSlot};
        msghdr& h = b->msgs[i].msg_hdr;
        h = msghdr{};
        h.msg_name = &b->names[i];
        h.msg_namelen = sizeof b->names[i];
        h.msg_iov = &b->iov[i];
        h.msg_iovlen = 1;
    }
    int n;
    if (single) {
        --single_left_;
        ssize_t r = ::recvmsg(fd_, &b->msgs[0].msg_hdr, MSG_DONTWAIT);
        n = r < 0 ? -1 : 1;
        if (r >= 0) b->msgs[0].msg_len = static_cast<unsigned>(r);
    } else {
        n = ::recvmmsg(fd_, b->msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (n == 1) single_left_ = kSingleRun;
    }
    if (n < 0) {
        if (!would_block(errno)) report_error(last_error(), remote_);
        return;
    }
    in_batch_ = n > 1;
    for (int i = 0; i < n; ++i) {
        const msghdr& h = b->msgs[i].msg_hdr;
        SocketAddress from(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
        ByteView data(b->data + static_cast<std::size_t>(i) * kSlot, b->msgs[i].msg_len);
        if (!deliver(data, from, (h.msg_flags & MSG_TRUNC) != 0)) break;
    }
    flush_replies();
}

void UdpTransport::receive_one() noexcept {
    // Unix datagrams may exceed 64 KiB: one at a time into the loop's 256 KiB read buffer.
    std::size_t cap;
    std::byte* buf = loop_.read_buffer(cap);
    SocketAddress from;
    iovec iov{buf, cap};
    msghdr h{};
    h.msg_name = from.data();
    h.msg_namelen = from.capacity();
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_, &h, MSG_DONTWAIT);
    if (n < 0) {
        if (!would_block(errno)) report_error(last_error(), remote_);
        return;
    }
    // An unbound sender has no name (length 0): still a Unix address, with an empty path.
    from.set_size(h.msg_namelen > 0 ? h.msg_namelen : static_cast<socklen_t>(sizeof(sa_family_t)));
    from.data()->sa_family = AF_UNIX;
    deliver(ByteView(buf, static_cast<std::size_t>(n)), from, (h.msg_flags & MSG_TRUNC) != 0);
}

bool UdpTransport::deliver(ByteView data, const SocketAddress& from, bool truncated) noexcept {
    if (closing_) return false;
    if (truncated) {
        ++truncated_;
        report_error(make_error_code(errc::datagram_truncated), from);
        return !closing_;
    }
    call("datagram_received", [&] { protocol_->datagram_received(data, from); });
    return !closing_;
}

void UdpTransport::report_error(std::error_code ec, const SocketAddress& addr) noexcept {
    if (!protocol_) return;  // connection_lost has run (errors scheduled before it still arrive)
    call("error_received", [&] { protocol_->error_received(ec, addr); });
}

void UdpTransport::schedule_error(std::error_code ec, const SocketAddress& addr) noexcept {
    try {
        loop_.call_soon([t = DatagramTransportPtr(this), ec, addr] {
            static_cast<UdpTransport*>(t.get())->report_error(ec, addr);
        });
    } catch (...) {
        // No memory for the callback: the error cannot be reported later, so end the endpoint
        // rather than lose it silently.
        force_close(ec);
    }
}

// --- sending --------------------------------------------------------------------------------

void UdpTransport::sendto(ByteView data, const SocketAddress& addr) {
    loop_.check_thread("DatagramTransport::sendto");
    bool to_peer = addr.family() == AF_UNSPEC;
    if (remote_.family() != AF_UNSPEC) {
        if (!to_peer && !(addr == remote_))
            throw std::invalid_argument("sendto: endpoint is connected to " + remote_.to_string() +
                                        ", cannot send to " + addr.to_string());
    } else if (to_peer) {
        throw std::invalid_argument("sendto: no address given and the endpoint is not connected");
    }
    if (closing_) {
        // asyncio counts and logs after a few; we report the fifth once, then keep counting.
        if (++dropped_writes_ == 5)
            loop_.call_exception_handler({"sendto() on a closed datagram endpoint: datagrams are being dropped",
                                          nullptr, nullptr, this});
        return;
    }
    const SocketAddress& dest = to_peer ? remote_ : addr;
    if (std::size_t max = protocol_max_payload(family_); max != 0 && data.size() > max) {
        schedule_error(std::make_error_code(std::errc::message_size), dest);
        return;
    }
    if (in_batch_) {
        // Inside a batch of several: defer the reply (see ReplyBuffers). Never past a queued
        // datagram, so the order of datagrams stays the order of the calls.
        ReplyBuffers& r = reply_buffers();
        if (r.count == kMaxReplies) {
            flush_replies();
            in_batch_ = !lost_scheduled_;
        }
        if (in_batch_ && (!s_ || s_->queue.empty())) {
            std::size_t at = r.bytes.size();
            r.bytes.insert(r.bytes.end(), data.begin(), data.end());
            r.offset[r.count] = at;
            r.size[r.count] = data.size();
            r.addr[r.count] = to_peer ? SocketAddress() : addr;
            ++r.count;
            return;
        }
    }
    if (!s_ || s_->queue.empty()) {
        ssize_t n = to_peer ? ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL)
                            : ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, addr.data(), addr.size());
        if (n >= 0) return;  // datagram sockets send all or nothing
        if (!would_block(errno)) {
            schedule_error(last_error(), dest);
            return;
        }
    }
    queue_datagram(data, to_peer ? SocketAddress() : addr);
}

void UdpTransport::flush_replies() noexcept {
    if (!in_batch_) return;
    in_batch_ = false;
    ReplyBuffers& r = reply_buffers();
    std::size_t count = r.count, done = 0;
    r.count = 0;
    for (std::size_t i = 0; i < count; ++i) {
        r.iov[i] = {r.bytes.data() + r.offset[i], r.size[i]};
        msghdr& h = r.msgs[i].msg_hdr;
        h = msghdr{};
        if (r.addr[i].family() != AF_UNSPEC) {
            h.msg_name = const_cast<sockaddr*>(r.addr[i].data());
            h.msg_namelen = r.addr[i].size();
        }
        h.msg_iov = &r.iov[i];
        h.msg_iovlen = 1;
    }
    while (done < count && fd_ >= 0) {
        int n = ::sendmmsg(fd_, r.msgs + done, static_cast<unsigned>(count - done), MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && would_block(errno)) break;
        // The first datagram of the rest failed on its own: report it, go on with the others.
        const SocketAddress& a = r.addr[done];
        schedule_error(n < 0 ? last_error() : std::make_error_code(std::errc::io_error),
                       a.family() == AF_UNSPEC ? remote_ : a);
        ++done;
    }
    try {
        // What the socket did not take waits in the queue, in order, as any refused send does.
        for (; done < count && fd_ >= 0 && !lost_scheduled_; ++done)
            queue_datagram(ByteView(r.bytes.data() + r.offset[done], r.size[done]), r.addr[done]);
    } catch (...) {
        force_close(std::make_error_code(std::errc::not_enough_memory));
    }
    r.bytes.clear();
}

void UdpTransport::queue_datagram(ByteView data, const SocketAddress& addr) {
    if (!s_) s_ = std::make_unique<SendSide>();
    bool was_empty = s_->queue.empty();
    s_->queue.push_back({std::vector<std::byte>(data.begin(), data.end()), addr});
    s_->bytes += data.size() + kHeaderCost;
    if (was_empty && !start_write_watch()) return;
    maybe_pause_protocol();
}

bool UdpTransport::start_write_watch() noexcept {
    try {
        if (!s_->watch.valid()) s_->watch = IoWatcher(loop_, fd_, EV_WRITE, [this] { on_writable(); });
        s_->watch.start();
        return true;
    } catch (const std::system_error& e) {
        force_close(e.code());
        return false;
    }
}

void UdpTransport::on_writable() noexcept {
    if (fd_ < 0 || !s_ || s_->queue.empty()) {
        if (s_) s_->watch.stop();
        return;
    }
    // Up to 64 queued datagrams per sendmmsg call; a datagram the kernel rejects is dropped and
    // reported, the rest go on.
    constexpr std::size_t kMax = 64;
    mmsghdr msgs[kMax];
    iovec iov[kMax];
    while (!s_->queue.empty() && !lost_scheduled_) {
        std::size_t count = std::min(kMax, s_->queue.size());
        for (std::size_t i = 0; i < count; ++i) {
            Queued& q = s_->queue[i];
            iov[i] = {q.data.data(), q.data.size()};
            msghdr& h = msgs[i].msg_hdr;
            h = msghdr{};
            if (q.addr.family() != AF_UNSPEC) {
                h.msg_name = const_cast<sockaddr*>(q.addr.data());
                h.msg_namelen = q.addr.size();
            }
            h.msg_iov = &iov[i];
            h.msg_iovlen = 1;
        }
        int n = ::sendmmsg(fd_, msgs, static_cast<unsigned>(count), MSG_NOSIGNAL);
        if (n < 0) {
            if (would_block(errno)) break;
            std::error_code ec = last_error();
            Queued failed = std::move(s_->queue.front());
            s_->queue.pop_front();
            s_->bytes -= failed.data.size() + kHeaderCost;
            report_error(ec, failed.addr.family() == AF_UNSPEC ? remote_ : failed.addr);
            continue;
        }
        for (int i = 0; i < n; ++i) {
            s_->bytes -= s_->queue.front().data.size() + kHeaderCost;
            s_->queue.pop_front();
        }
        if (static_cast<std::size_t>(n) < count) break;  // the socket buffer is full again
    }
    if (!s_ || lost_scheduled_) return;
    maybe_resume_protocol();
    if (!s_->queue.empty() || lost_scheduled_) return;
    s_->watch.stop();
    if (closing_) schedule_connection_lost({});
}

// --- flow control ---------------------------------------------------------------------------

void UdpTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    loop_.check_thread("DatagramTransport::set_write_buffer_limits");
    std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
    std::size_t l = low ? *low : h / 4;
    if (h < l) throw std::invalid_argument("set_write_buffer_limits: high must be >= low");
    limits_ = {h, l};
    maybe_pause_protocol();
    maybe_resume_protocol();
}

void UdpTransport::maybe_pause_protocol() noexcept {
    if (writing_paused_ || get_write_buffer_size() <= limits_.high || !protocol_) return;
    writing_paused_ = true;
    call("pause_writing", [&] { protocol_->pause_writing(); });
}

void UdpTransport::maybe_resume_protocol() noexcept {
    if (!writing_paused_ || get_write_buffer_size() > limits_.low || lost_scheduled_) return;
    writing_paused_ = false;
    call("resume_writing", [&] { protocol_->resume_writing(); });
}

// --- closing --------------------------------------------------------------------------------

void UdpTransport::close() {
    loop_.check_thread("DatagramTransport::close");
    flush_replies();  // replies of the batch being delivered go out first, as sent ones would
    if (closing_) return;
    closing_ = true;
    read_watch_.stop();
    if (!s_ || s_->queue.empty()) schedule_connection_lost({});
}

void UdpTransport::abort() {
    loop_.check_thread("DatagramTransport::abort");
    force_close({});
}

void UdpTransport::close_for_loop() noexcept {
    if (lost_scheduled_) return;
    loop_.call_exception_handler({"unclosed datagram transport aborted by EventLoop::close()", nullptr, nullptr, this});
    force_close(make_error_code(errc::loop_closed));
}

void UdpTransport::force_close(std::error_code ec) noexcept {
    flush_replies();
    if (lost_scheduled_) return;
    closing_ = true;
    read_watch_.stop();
    if (s_) {
        s_->watch.stop();
        s_->queue.clear();
        s_->bytes = 0;
    }
    schedule_connection_lost(ec);
}

void UdpTransport::schedule_connection_lost(std::error_code ec) noexcept {
    lost_scheduled_ = true;
    call_soon_or_now(loop_, [t = DatagramTransportPtr(this), ec] { static_cast<UdpTransport*>(t.get())->call_connection_lost(ec); });
}

void UdpTransport::call_connection_lost(std::error_code ec) noexcept {
    call_protocol(loop_.owner(), this, "connection_lost", [&] { protocol_->connection_lost(ec); });
    read_watch_.reset();
    if (s_) s_->watch.reset();
    if (unix_file_) {
        struct stat st {};
        if (::stat(unix_file_->path.c_str(), &st) == 0 && st.st_dev == unix_file_->dev && st.st_ino == unix_file_->ino)
            ::unlink(unix_file_->path.c_str());
        unix_file_.reset();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    protocol_.reset();
    s_.reset();
    loop_.transports_.remove(this);
    release_ref();  // the loop's reference: may destroy this
}

std::unique_ptr<DatagramProtocol> UdpTransport::set_protocol(std::unique_ptr<DatagramProtocol> protocol) {
    loop_.check_thread("DatagramTransport::set_protocol");
    if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
    std::swap(protocol, protocol_);
    return protocol;
}

}  // namespace detail
}  // namespace bulb
