// SPDX-License-Identifier: MIT
/// @file
/// StreamTransport: TCP and Unix-socket transports on raw libevent events (asyncio's
/// _SelectorSocketTransport). Private: users see bulb::Transport.
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
    WriteBufferLimits get_write_buffer_limits() const noexcept override { return w_ ? w_->limits : WriteBufferLimits{}; }
    std::size_t get_write_buffer_size() const noexcept override { return w_ ? w_->buf.size() : 0; }
    SocketAddress get_peername() const override;
    SocketAddress get_sockname() const override;
    int get_fd() const noexcept override { return fd_; }
    EventLoop& get_loop() const noexcept override;
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) override;
    Protocol* get_protocol() const noexcept override { return protocol_.get(); }
    bool is_writing_paused() const noexcept override { return writing_paused_; }
    const char* kind() const noexcept override { return "StreamTransport"; }

    void close_for_loop() noexcept override;

protected:
    Future<std::uint64_t> do_sendfile(int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                                      bool fallback) override;

private:
    StreamTransport(LoopImpl& loop, int fd, std::unique_ptr<Protocol> protocol, ServerImpl* server);
    ~StreamTransport() override;

    void on_connected(std::optional<Future<Connection>>& waiter) noexcept;
    void on_readable() noexcept;
    void on_writable() noexcept;
    void on_eof() noexcept;
    void start_reading();
    BufferedProtocol* buffered() const noexcept {
        return buffered_ ? static_cast<BufferedProtocol*>(protocol_.get()) : nullptr;
    }
    bool write_pending() const noexcept { return w_ && !w_->buf.empty(); }
    void buffer_rest(ByteView rest);
    bool start_write_watch() noexcept;
    void maybe_pause_protocol() noexcept;
    void maybe_resume_protocol() noexcept;
    void fatal_error(std::error_code ec) noexcept;
    /// Invokes protocol callback `callback` through call_protocol(); a throw closes the
    /// connection (reset, protocol_callback_failed). Returns false then.
    template <class Call>
    bool call(const char* callback, Call&& fn) noexcept;
    void force_close(std::error_code ec, bool reset) noexcept;
    void schedule_connection_lost(std::error_code ec) noexcept;
    void call_connection_lost(std::error_code ec) noexcept;

    /// The write side, made by the first write the socket does not take whole (or by
    /// set_write_buffer_limits); its event by the first wait for writability. Connections that
    /// never fill their socket buffer, idle ones above all, do without the write event, its
    /// callback node and the buffer: ~300 of the ~800 bytes an idle connection cost with them.
    /// A sendfile() in progress: sent with sendfile(2) whenever the socket is writable, once
    /// the buffer before it has gone.
    struct FileSend {
        int fd;
        std::uint64_t offset;
        std::optional<std::uint64_t> count;
        Future<std::uint64_t> result;
        bool fallback;
        std::uint64_t sent = 0;
    };
    struct WriteSide {
        IoWatcher watch;  // empty until needed
        WriteBuffer buf;
        WriteBufferLimits limits;
        std::unique_ptr<FileSend> file;
    };
    WriteSide& write_side();
    bool sending_file() const noexcept { return w_ && w_->file; }
    /// Sends the file until the socket is full; false when it has to wait for writability.
    bool pump_file() noexcept;
    /// Ends the sendfile: reading as before, then the future resolves (ec empty) or fails.
    void end_file(std::error_code ec, const char* what) noexcept;
    /// sendfile(2) refused the file before a byte went: the portable path takes it over.
    void fall_back() noexcept;

    // Ordered for size (128-byte allocations with the bases): the flags share fd_'s word.
    LoopImpl& loop_;
    int fd_;
    bool buffered_ = false;        // protocol_ is a BufferedProtocol
    bool closing_ = false;
    bool reading_ = true;          // wanted (pause_reading clears it)
    bool eof_received_ = false;    // the peer half-closed
    bool eof_requested_ = false;   // write_eof() called
    bool eof_sent_ = false;
    bool writing_paused_ = false;  // pause_writing() delivered
    bool lost_scheduled_ = false;
    bool lost_called_ = false;     // connection_lost delivered: the protocol is called no more (BULB_ASSERT)
    std::unique_ptr<Protocol> protocol_;
    ServerImpl* server_;  // counted reference while attached
    IoWatcher read_watch_;
    std::unique_ptr<WriteSide> w_;
    std::size_t dropped_writes_ = 0;
};

}  // namespace bulb::detail
