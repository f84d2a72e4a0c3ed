// SPDX-License-Identifier: MIT
/// @file
/// PipeTransport: one direction of a pipe, FIFO, character device or socket as a Transport
/// (asyncio's _UnixReadPipeTransport / _UnixWritePipeTransport). Private: users see
/// bulb::Transport through EventLoop::connect_read_pipe / connect_write_pipe.
#pragma once

#include <bulb/future.hpp>
#include <bulb/transport.hpp>

#include "loop/io_watcher.hpp"
#include "loop/loop_resource.hpp"
#include "write_buffer.hpp"

#include <memory>
#include <optional>

namespace bulb::detail {

class LoopImpl;

class PipeTransport final : public Transport, public LoopResource {
public:
    enum class Direction { read, write };

    /// Throws std::invalid_argument unless `fd` is a pipe, FIFO, socket or character device;
    /// std::system_error when it cannot be made non-blocking.
    static void check_pipe_fd(int fd, const char* who);

    /// Takes ownership of `fd` (made non-blocking here). connection_made() runs from the loop,
    /// then `waiter` (if any) resolves. A transport made `paused` starts reading only on
    /// resume_reading() (the subprocess transport starts its pipes after its own connection_made).
    static PipeTransport* create(LoopImpl& loop, int fd, Direction dir, std::unique_ptr<Protocol> protocol,
                                 std::optional<Future<Connection>> waiter, bool paused = false);

    void write(ByteView data) override;
    using Transport::write;
    void writelines(std::span<const ByteView> buffers) override;
    using Transport::writelines;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return dir_ == Direction::write; }
    std::size_t get_dropped_writes() const noexcept override { return dropped_writes_; }
    void close() override;
    void abort() override;
    bool is_closing() const noexcept override { return closing_; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return dir_ == Direction::read && reading_ && !closing_; }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
    WriteBufferLimits get_write_buffer_limits() const noexcept override { return limits_; }
    std::size_t get_write_buffer_size() const noexcept override { return buf_.size(); }
    bool is_writing_paused() const noexcept override { return writing_paused_; }
    const char* kind() const noexcept override { return "PipeTransport"; }
    SocketAddress get_peername() const override { return {}; }
    SocketAddress get_sockname() const override { return {}; }
    int get_fd() const noexcept override { return fd_; }
    std::optional<std::string> get_extra_info(std::string_view name) const override;
    using Transport::get_extra_info;
    EventLoop& get_loop() const noexcept override;
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) override;
    Protocol* get_protocol() const noexcept override { return protocol_.get(); }

    void close_for_loop() noexcept override;
    /// Part of a subprocess transport, which reports the loop's close once for all its pipes.
    void set_quiet_on_loop_close() noexcept { quiet_on_loop_close_ = true; }

private:
    PipeTransport(LoopImpl& loop, int fd, Direction dir, std::unique_ptr<Protocol> protocol, bool paused);
    ~PipeTransport() override;

    void on_connected(std::optional<Future<Connection>>& waiter) noexcept;
    void on_readable() noexcept;
    void on_writable() noexcept;
    void on_peer_closed() noexcept;
    void start_watch(IoWatcher& w) noexcept;
    bool write_now(ByteView& data) noexcept;
    void append_and_watch(std::span<const ByteView> rest, std::size_t skip) noexcept;
    void maybe_pause_protocol() noexcept;
    void maybe_resume_protocol() noexcept;
    template <class Call>
    bool call(const char* callback, Call&& fn) noexcept;
    void force_close(std::error_code ec) noexcept;
    void schedule_connection_lost(std::error_code ec) noexcept;
    void call_connection_lost(std::error_code ec) noexcept;

    LoopImpl& loop_;
    int fd_;
    Direction dir_;
    bool connected_ = false;       // connection_made returned
    bool closing_ = false;
    bool reading_ = true;          // wanted (pause_reading clears it)
    bool eof_requested_ = false;   // write_eof() called
    bool writing_paused_ = false;  // pause_writing() delivered
    bool lost_scheduled_ = false;
    bool quiet_on_loop_close_ = false;
    std::unique_ptr<Protocol> protocol_;
    // Read pipes watch for data; write pipes watch for readability too, which on Linux means the
    // reading end was closed (EPOLLERR/EPOLLHUP): that is how an idle writer learns of it.
    IoWatcher read_watch_;
    IoWatcher write_watch_;
    WriteBuffer buf_;
    WriteBufferLimits limits_;
    std::size_t dropped_writes_ = 0;
};

/// F_SETPIPE_SZ to `bytes` capped at /proc/sys/fs/pipe-max-size (read once); 0 or a refusal
/// (the user's pipe quota) keeps the current size: a bigger pipe is an optimisation only.
void set_pipe_size(int fd, std::size_t bytes) noexcept;

}  // namespace bulb::detail
