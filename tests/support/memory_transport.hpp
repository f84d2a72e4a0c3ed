// SPDX-License-Identifier: MIT
/// @file
/// MemoryTransport: two connected in-memory transports, so that protocols and codecs are tested
/// without sockets. Built on bulb's public API only: bytes written on one side reach the other
/// side's protocol from the loop's ready queue (call_soon), never from inside write(), with the
/// same callback chart and flow control as a socket transport:
///
/// - write() appends to the writer's in-flight buffer; above the high-water mark the writer's
///   protocol gets pause_writing() (from inside write(), as over TCP), and resume_writing()
///   once the peer has taken the buffer down to the low-water mark;
/// - a peer that paused reading takes nothing: the writer's buffer grows (back-pressure);
/// - write_eof() and close() deliver eof_received() to the peer after the buffered bytes;
///   close() then ends this side (connection_lost with an empty error);
/// - abort() drops the buffer; this side gets connection_lost({}), the peer
///   connection_lost(ECONNRESET), as a reset socket would.
///
/// Each transport keeps itself alive until its connection_lost() has returned; live_count()
/// lets a test check none is left. Loop thread only.
#pragma once

#include <bulb/loop.hpp>
#include <bulb/transport.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace bulb_test {

class MemoryTransport final : public bulb::Transport {
public:
    /// Connects `a` and `b`: each gets connection_made() from the loop (a's first). Returns the
    /// two transports (a's, b's).
    static std::pair<bulb::TransportPtr, bulb::TransportPtr> pair(bulb::EventLoop& loop,
                                                                  std::unique_ptr<bulb::Protocol> a,
                                                                  std::unique_ptr<bulb::Protocol> b);
    /// Memory transports not yet destroyed (a test ends with 0).
    static std::size_t live_count() noexcept;

    ~MemoryTransport() override;

    void write(bulb::ByteView data) override;
    using Transport::write;
    void writelines(std::span<const bulb::ByteView> buffers) override;
    using Transport::writelines;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return true; }
    std::size_t get_dropped_writes() const noexcept override { return dropped_; }
    void close() override;
    void abort() override;
    bool is_closing() const noexcept override { return closing_; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return reading_ && !closing_; }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
    bulb::WriteBufferLimits get_write_buffer_limits() const noexcept override { return limits_; }
    std::size_t get_write_buffer_size() const noexcept override { return out_.size(); }
    bool is_writing_paused() const noexcept override { return writing_paused_; }
    bulb::SocketAddress get_peername() const override { return {}; }
    bulb::SocketAddress get_sockname() const override { return {}; }
    int get_fd() const noexcept override { return -1; }
    bulb::EventLoop& get_loop() const noexcept override { return loop_; }
    const char* kind() const noexcept override { return "MemoryTransport"; }
    std::unique_ptr<bulb::Protocol> set_protocol(std::unique_ptr<bulb::Protocol> protocol) override;
    bulb::Protocol* get_protocol() const noexcept override { return protocol_.get(); }

private:
    MemoryTransport(bulb::EventLoop& loop, std::unique_ptr<bulb::Protocol> protocol);

    void schedule_transfer();
    void transfer() noexcept;  // moves this side's buffer to the peer, as far as it reads
    void peer_eof() noexcept;
    void lose(std::error_code ec) noexcept;
    void reset(std::error_code own) noexcept;  // abort(): `own` for this side, a reset for the peer
    void schedule_lost(std::error_code ec) noexcept;
    void maybe_pause() noexcept;
    void maybe_resume() noexcept;
    template <class Call>
    bool call(const char* callback, Call&& fn) noexcept;

    bulb::EventLoop& loop_;
    std::unique_ptr<bulb::Protocol> protocol_;
    bulb::RefPtr<MemoryTransport> peer_;  // counted both ways; released at connection_lost
    std::string out_;                     // written, not yet taken by the peer
    bulb::WriteBufferLimits limits_;
    std::size_t dropped_ = 0;
    bool connected_ = false;      // connection_made delivered
    bool reading_ = true;
    bool closing_ = false;
    bool eof_wanted_ = false;     // write_eof() or close(): EOF to the peer once out_ is empty
    bool eof_sent_ = false;
    bool eof_received_ = false;
    bool transfer_scheduled_ = false;
    bool lost_scheduled_ = false;
    bool writing_paused_ = false;
};

}  // namespace bulb_test
