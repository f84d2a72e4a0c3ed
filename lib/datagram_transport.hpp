// SPDX-License-Identifier: MIT
/// @file
/// UdpTransport: the datagram transport of UDP and Unix datagram sockets (asyncio's
/// _SelectorDatagramTransport) on raw libevent events. Private: users see bulb::DatagramTransport.
#pragma once

#include <bulb/datagram_transport.hpp>
#include <bulb/future.hpp>

#include "loop/io_watcher.hpp"
#include "loop/loop_resource.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace bulb::detail {

class LoopImpl;

/// A socket file a Unix endpoint bound and removes when it closes (if it is still the same file).
struct BoundUnixFile {
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
};

class UdpTransport final : public DatagramTransport, public LoopResource {
public:
    /// Takes ownership of the non-blocking datagram socket `fd` (bound and/or connected as the
    /// options said; `remote` is the connected peer or AF_UNSPEC). connection_made() runs from
    /// the loop, then receiving starts, then `waiter` (if any) resolves.
    static UdpTransport* create(LoopImpl& loop, int fd, std::unique_ptr<DatagramProtocol> protocol,
                                const SocketAddress& remote, std::optional<BoundUnixFile> unix_file,
                                std::optional<Future<DatagramConnection>> waiter);

    void sendto(ByteView data, const SocketAddress& addr) override;
    using DatagramTransport::sendto;
    std::size_t get_dropped_writes() const noexcept override { return dropped_writes_; }
    std::size_t get_truncated_datagrams() const noexcept override { return truncated_; }
    void close() override;
    void abort() override;
    bool is_closing() const noexcept override { return closing_; }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
    WriteBufferLimits get_write_buffer_limits() const noexcept override { return limits_; }
    std::size_t get_write_buffer_size() const noexcept override { return s_ ? s_->bytes : 0; }
    SocketAddress get_peername() const override { return remote_; }
    SocketAddress get_sockname() const override;
    int get_fd() const noexcept override { return fd_; }
    EventLoop& get_loop() const noexcept override;
    std::unique_ptr<DatagramProtocol> set_protocol(std::unique_ptr<DatagramProtocol> protocol) override;
    DatagramProtocol* get_protocol() const noexcept override { return protocol_.get(); }

    void close_for_loop() noexcept override;

private:
    UdpTransport(LoopImpl& loop, int fd, std::unique_ptr<DatagramProtocol> protocol, const SocketAddress& remote,
                 std::optional<BoundUnixFile> unix_file);
    ~UdpTransport() override;

    void on_connected(std::optional<Future<DatagramConnection>>& waiter) noexcept;
    void on_readable() noexcept;
    void receive_batch() noexcept;
    void receive_one() noexcept;
    /// Delivers one received datagram (or its truncation); false when the endpoint began closing.
    bool deliver(ByteView data, const SocketAddress& from, bool truncated) noexcept;
    void on_writable() noexcept;
    /// Sends the replies deferred during a receive batch with sendmmsg (see sendto).
    void flush_replies() noexcept;
    void queue_datagram(ByteView data, const SocketAddress& addr);
    bool start_write_watch() noexcept;
    void report_error(std::error_code ec, const SocketAddress& addr) noexcept;
    void schedule_error(std::error_code ec, const SocketAddress& addr) noexcept;
    void maybe_pause_protocol() noexcept;
    void maybe_resume_protocol() noexcept;
    /// Calls protocol callback `callback`; a throw is reported and closes the endpoint.
    template <class Call>
    void call(const char* callback, Call&& c) noexcept;
    void force_close(std::error_code ec) noexcept;
    void schedule_connection_lost(std::error_code ec) noexcept;
    void call_connection_lost(std::error_code ec) noexcept;

    /// A datagram waiting for the socket: its bytes and destination, kept whole.
    struct Queued {
        std::vector<std::byte> data;
        SocketAddress addr;  // AF_UNSPEC: the connected peer
    };
    /// The send side, made by the first datagram the socket refuses with EAGAIN: idle endpoints
    /// and those that never fill their socket buffer do without it.
    struct SendSide {
        IoWatcher watch;
        std::deque<Queued> queue;
        std::size_t bytes = 0;  // payloads + 8 per datagram
    };

    LoopImpl& loop_;
    int fd_;
    int family_;
    bool closing_ = false;
    bool writing_paused_ = false;
    bool lost_scheduled_ = false;
    std::unique_ptr<DatagramProtocol> protocol_;
    IoWatcher read_watch_;
    std::unique_ptr<SendSide> s_;
    WriteBufferLimits limits_;
    std::size_t dropped_writes_ = 0;
    std::size_t truncated_ = 0;
    unsigned single_left_ = 0;  // wake-ups still read with recvmsg (see receive_batch)
    bool in_batch_ = false;     // delivering a recvmmsg batch of several: sends are deferred
    SocketAddress remote_;
    std::unique_ptr<BoundUnixFile> unix_file_;
};

}  // namespace bulb::detail
