// SPDX-License-Identifier: MIT
/// @file
/// StreamTransport: TCP and Unix-socket transports on raw libevent events (asyncio's
/// _SelectorSocketTransport). Private: users see bulb::Transport.
#pragma once

#include <bulb/future.hpp>
#include <bulb/transport.hpp>

#include "io_watcher.hpp"
#include "loop_resource.hpp"
#include "write_buffer.hpp"

#include <optional>

namespace bulb::detail {

class LoopImpl;
class ServerImpl;

class StreamTransport final : public Transport, public LoopResource {
public:
    /// Takes ownership of the connected, non-blocking `fd`. connection_made() runs from the loop,
    /// then reading starts, then `waiter` (if any) resolves.
    static StreamTransport* create(LoopImpl& loop, int fd, std::unique_ptr<Protocol> protocol,
                                   ServerImpl* server, std::optional<Future<Connection>> waiter);

    void write(ByteView data) override;
    using Transport::write;
    void writelines(std::span<const ByteView> buffers) override;
    using Transport::writelines;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return true; }
    std::size_t get_dropped_writes() const noexcept override { return dropped_writes_; }
    void close() override;
    void abort() override;
    bool is_closing() const noexcept override { return closing_; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return reading_ && !closing_; }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
    WriteBufferLimits get_write_buffer_limits() const noexcept override { return limits_; }
    std::size_t get_write_buffer_size() const noexcept override { return wbuf_.size(); }
    SocketAddress get_peername() const override;
    SocketAddress get_sockname() const override;
    int get_fd() const noexcept override { return fd_; }
    EventLoop& get_loop() const noexcept override;
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) override;
    Protocol* get_protocol() const noexcept override { return protocol_.get(); }

    void close_for_loop() noexcept override;

private:
    StreamTransport(LoopImpl& loop, int fd, std::unique_ptr<Protocol> protocol, ServerImpl* server);
    ~StreamTransport() override;

    void on_connected(std::optional<Future<Connection>>& waiter) noexcept;
    void on_readable() noexcept;
    void on_writable() noexcept;
    void on_eof() noexcept;
    void start_reading();
    void buffer_rest(ByteView rest);
    void maybe_pause_protocol() noexcept;
    void maybe_resume_protocol() noexcept;
    void fatal_error(std::error_code ec) noexcept;
    void callback_failed(const char* what) noexcept;
    void force_close(std::error_code ec, bool reset) noexcept;
    void schedule_connection_lost(std::error_code ec) noexcept;
    void call_connection_lost(std::error_code ec) noexcept;

    LoopImpl& loop_;
    int fd_;
    std::unique_ptr<Protocol> protocol_;
    BufferedProtocol* buffered_ = nullptr;
    ServerImpl* server_;  // counted reference while attached
    IoWatcher read_watch_;
    IoWatcher write_watch_;
    WriteBuffer wbuf_;
    WriteBufferLimits limits_;
    std::size_t dropped_writes_ = 0;
    bool closing_ = false;
    bool reading_ = true;          // wanted (pause_reading clears it)
    bool eof_received_ = false;    // the peer half-closed
    bool eof_requested_ = false;   // write_eof() called
    bool eof_sent_ = false;
    bool writing_paused_ = false;  // pause_writing() delivered
    bool lost_scheduled_ = false;
};

}  // namespace bulb::detail
