// SPDX-License-Identifier: MIT
/// @file
/// The one test harness for loop-making tests (core, coro, streams, TLS, datagram, subprocess,
/// transport): AuditedLoop (an EventLoop audited when the test ends), the recording exception
/// handler, one-iteration runs, destruction counters and descriptor pairs.
#pragma once

#include "loop_audit.hpp"

#include <bulb/bulb.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace bulb_test {

using namespace std::chrono_literals;

/// Installs an exception handler on `loop` that records every report (message and exception text).
/// The test inspects the reports itself (an AuditedLoop then skips its count check).
struct RecordingHandler {
    struct Report {
        std::string message;
        std::exception_ptr exception;
        std::string what;  // describe_exception(exception)
        bulb::Transport* transport = nullptr;
        bulb::DatagramTransport* datagram_transport = nullptr;
    };
    std::shared_ptr<std::vector<Report>> reports = std::make_shared<std::vector<Report>>();

    RecordingHandler() = default;
    explicit RecordingHandler(bulb::EventLoop& loop) { install(loop); }
    void install(bulb::EventLoop& loop) {
        loop.set_exception_handler([r = reports](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            r->push_back({c.message, c.exception, c.exception ? bulb::describe_exception(c.exception) : "",
                          c.transport, c.datagram_transport});
        });
    }
    std::size_t size() const { return reports->size(); }
    const Report& operator[](std::size_t i) const { return reports->at(i); }
    /// Each report as "message: exception text".
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (auto& r : *reports) out.push_back(r.message + (r.what.empty() ? "" : ": " + r.what));
        return out;
    }
};

/// Runs exactly one iteration of `loop` (asyncio's test_utils.run_briefly).
inline void run_once(bulb::EventLoop& loop) {
    loop.stop();
    loop.run_forever();
}

/// Runs `loop` until `done()` holds, failing the test after `limit` of wall time.
template <class Pred>
bool run_until(bulb::EventLoop& loop, Pred done, std::chrono::milliseconds limit = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        auto guard = loop.call_later(1ms, [] {});  // bounds the poll
        run_once(loop);
        guard.cancel();
    }
    return true;
}

/// Runs `n` iterations of `loop`.
inline void run_iterations(bulb::EventLoop& loop, int n = 1) {
    for (int i = 0; i < n; ++i) run_once(loop);
}

/// An event loop audited when it is destroyed (tests/support/loop_audit.hpp): no transport left
/// open, exactly the declared exception-handler reports (none unless expect_reports() or
/// allow_reports(); a test that installs its own handler checks its reports itself), and the
/// process's descriptors back to the count before the loop. Declare it where a test would
/// declare a bulb::EventLoop; it is one.
class AuditedLoop : public LoopAudit, public bulb::EventLoop {
public:
    AuditedLoop() { recorder_.install(*this); }
    explicit AuditedLoop(const bulb::LoopOptions& options) : bulb::EventLoop(options) { recorder_.install(*this); }
    ~AuditedLoop() {
        audit(*this, [this] { return recorder_.lines(); }, [this](auto done) { run_until(*this, done, std::chrono::milliseconds(500)); });
    }
    /// The reports the audit's own handler recorded (while no other handler replaced it).
    const RecordingHandler& reports() const { return recorder_; }

private:
    RecordingHandler recorder_;
};

/// Counts destructions of the captures it is copied into (only the live object counts).
struct DestroyCounter {
    int* count;
    bool live = true;
    explicit DestroyCounter(int* c) : count(c) {}
    DestroyCounter(DestroyCounter&& o) noexcept : count(o.count), live(std::exchange(o.live, false)) {}
    DestroyCounter(const DestroyCounter&) = delete;
    ~DestroyCounter() {
        if (live) ++*count;
    }
};

/// A connected AF_UNIX stream socket pair, closed on destruction.
struct SocketPair {
    int fd[2] = {-1, -1};
    SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0); }
    ~SocketPair() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
    SocketPair(const SocketPair&) = delete;
    SocketPair& operator=(const SocketPair&) = delete;
};

}  // namespace bulb_test
