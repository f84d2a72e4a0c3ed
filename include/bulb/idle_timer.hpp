// SPDX-License-Identifier: MIT
/// @file
/// IdleTimer: an inactivity timeout for one connection (Twisted's TimeoutMixin, Netty's
/// IdleStateHandler), for callback protocols and stream tasks alike.
///
/// The connection's code reports activity (on_read() in data_received() or after a stream
/// read, on_write() after writing); the timer calls back once a watched kind of activity has
/// been missing for its limit. Reporting activity only stores the loop's time: the one loop
/// timer a running IdleTimer holds is re-armed lazily, when it fires early (activity moved the
/// deadline), never cancelled and re-created per read.
///
///     // A callback protocol (a member, started in connection_made):
///     bulb::IdleTimer idle_{loop, 30s, [this](bulb::Idle) { transport_->close(); }};
///     void data_received(bulb::ByteView d) override { idle_.on_read(); ... }
///
///     // A stream task:
///     bulb::IdleTimer idle(loop, 30s, [&](bulb::Idle) { writer.close(); });  // reader then sees EOF
///     idle.start();
///     while (auto line = co_await reader.readline(); !line.empty()) { idle.on_read(); ... }
#pragma once

#include <bulb/config.hpp>
#include <bulb/function.hpp>
#include <bulb/handle.hpp>

#include <cstdint>

namespace bulb {

class EventLoop;

/// Which inactivity an IdleTimer reports (Netty's IdleState).
enum class Idle {
    read,   ///< nothing read for IdleLimits::read
    write,  ///< nothing written for IdleLimits::write
    all,    ///< neither read nor written for IdleLimits::all
};

/// The limits of an IdleTimer; a zero (or negative) limit is not watched.
struct IdleLimits {
    Duration read{};   ///< reset by on_read()
    Duration write{};  ///< reset by on_write()
    Duration all{};    ///< reset by either
};

/// One connection's inactivity timeout. Loop thread only; not copyable or movable (its timer
/// refers to it). Destroying it, or stop(), cancels the timer; the callback may do either.
///
/// A kind of idleness is reported once its limit has passed without that activity, then again
/// after each further limit that passes without it (Netty's repeated events): a callback that
/// closes the connection should also stop() the timer or let it be destroyed.
class BULB_API IdleTimer {
public:
    /// Called on the loop thread with what was idle.
    using Callback = UniqueFunction<void(Idle)>;

    /// Watches the kinds with a positive limit in `limits`; not running until start().
    IdleTimer(EventLoop& loop, IdleLimits limits, Callback on_idle);
    /// Watches reads and writes together: `all` idleness after `limit` (zero: never).
    IdleTimer(EventLoop& loop, Duration limit, Callback on_idle);
    ~IdleTimer();
    IdleTimer(const IdleTimer&) = delete;
    IdleTimer& operator=(const IdleTimer&) = delete;

    /// (Re)starts watching: every limit counts from now. No-op if no limit is positive.
    void start();
    /// Stops watching and cancels the timer. Idempotent.
    void stop() noexcept;
    /// True between start() and stop() (and while a limit is positive).
    bool running() const noexcept { return running_; }

    /// Something was read: resets the `read` and `all` limits. Cheap (stores the loop time).
    void on_read() noexcept;
    /// Something was written: resets the `write` and `all` limits. Cheap.
    void on_write() noexcept;

    /// Changes the limits; a running timer restarts with them (counting from now).
    void set_limits(IdleLimits limits);
    /// The limits in force.
    IdleLimits limits() const noexcept { return limits_; }

    /// The loop timers this IdleTimer has armed since it was made (cost accounting, tests).
    std::uint64_t timers_armed() const noexcept { return armed_; }

private:
    void arm();
    void fire();
    std::int64_t now() const noexcept;

    EventLoop& loop_;
    IdleLimits limits_;
    Callback on_idle_;
    TimerHandle timer_;
    std::int64_t last_read_ = 0;   // loop time (ns) of the last read, start() or read report
    std::int64_t last_write_ = 0;  // the same for writes
    std::int64_t last_all_ = 0;    // the last report of `all` idleness (or start())
    std::uint64_t armed_ = 0;
    bool running_ = false;
    bool* alive_ = nullptr;  // set while fire() runs: cleared if the callback destroys *this
};

}  // namespace bulb
