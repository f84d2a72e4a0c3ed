// SPDX-License-Identifier: MIT
/// @file
/// StreamCore: the state a stream connection's reader, writer and protocol share
/// (asyncio's StreamReader buffer plus StreamReaderProtocol's drain and close bookkeeping).
#pragma once

#include <bulb/coro/await.hpp>
#include <bulb/coro/runner.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/future.hpp>
#include <bulb/transport.hpp>

#include <string>
#include <vector>

namespace bulb::detail {

class StreamCore final : public RefCounted {
public:
    StreamCore(EventLoop& loop, std::size_t limit) : loop_(loop), limit_(limit) {}

    // --- fed by the protocol ---------------------------------------------------------------
    void attach(Transport& t) { transport_ = TransportPtr(&t); }
    void feed_data(std::string_view data);
    void feed_eof();
    void connection_lost(std::error_code ec);
    void pause_writing() noexcept { writing_paused_ = true; }
    void resume_writing();

    // --- used by the reader ----------------------------------------------------------------
    /// Suspends the calling task until data, EOF or an error arrives.
    Task<void> wait_for_data(const char* who);
    /// Throws the connection's error if there is one.
    void throw_if_failed() const;
    /// Removes and returns the first `n` buffered bytes (resuming reading when drained).
    std::string take(std::size_t n);
    std::string_view buffer() const noexcept { return std::string_view(buffer_).substr(head_); }
    bool eof() const noexcept { return eof_; }
    std::size_t limit() const noexcept { return limit_; }
    /// StreamReader copies: a stream made with close_with_last_reader() (one without a writer)
    /// closes its transport when the count falls to zero.
    void add_reader() noexcept { ++readers_; }
    void release_reader() noexcept {
        if (--readers_ == 0 && close_with_last_reader_ && transport_ && !lost_ && !transport_->is_closing())
            transport_->close();
    }
    void close_with_last_reader() noexcept { close_with_last_reader_ = true; }

    // --- used by the writer ----------------------------------------------------------------
    Transport& transport() const noexcept { return *transport_; }
    /// True once connection_made has attached the transport.
    bool attached() const noexcept { return static_cast<bool>(transport_); }
    bool lost() const noexcept { return lost_; }
    std::error_code lost_error() const noexcept { return lost_error_; }
    bool writing_paused() const noexcept { return writing_paused_; }
    Future<void> add_drain_waiter();
    Future<void> closed();
    EventLoop& loop() const noexcept { return loop_; }

private:
    void wake_reader();
    void maybe_pause_reading();

    EventLoop& loop_;
    std::size_t limit_;
    TransportPtr transport_;
    std::string buffer_;
    std::size_t head_ = 0;  // consumed prefix of buffer_
    // take() hands over (rather than copies) the rest of a buffer at least this big, and frees
    // an emptied buffer whose capacity grew past it.
    static constexpr std::size_t big_take = 256 * 1024;
    bool eof_ = false;
    bool reading_paused_ = false;
    std::exception_ptr error_;
    std::optional<Future<void>> read_waiter_;
    bool writing_paused_ = false;
    bool lost_ = false;
    std::error_code lost_error_;
    std::vector<Future<void>> drain_waiters_;
    std::optional<Future<void>> closed_;
    int readers_ = 0;
    bool close_with_last_reader_ = false;
};

/// The protocol behind a stream connection: feeds the core, runs the client callback.
class StreamProtocol final : public Protocol {
public:
    explicit StreamProtocol(RefPtr<StreamCore> core) : core_(std::move(core)) {}
    /// Set by start_server: called from connection_made with the new reader and writer.
    UniqueFunction<void(RefPtr<StreamCore>)> on_connected;

    void connection_made(Transport& t) override;
    void data_received(ByteView data) override { core_->feed_data(as_string_view(data)); }
    bool eof_received() override;
    void connection_lost(std::error_code ec) override { core_->connection_lost(ec); }
    void pause_writing() override { core_->pause_writing(); }
    void resume_writing() override { core_->resume_writing(); }

    const RefPtr<StreamCore>& core() const noexcept { return core_; }

private:
    RefPtr<StreamCore> core_;
};

/// Shared by every copy of one StreamWriter: closes the connection when the last copy goes.
class WriterHandle final : public RefCounted {
public:
    explicit WriterHandle(RefPtr<StreamCore> core) : core_(std::move(core)) {}
    ~WriterHandle() override {
        if (!core_->lost() && !core_->transport().is_closing()) core_->transport().close();
    }

private:
    RefPtr<StreamCore> core_;
};

}  // namespace bulb::detail
