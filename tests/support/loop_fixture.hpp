// SPDX-License-Identifier: MIT
/// @file
/// Helpers shared by the core tests: a recording exception handler, destruction counters,
/// one-iteration runs and descriptor pairs.
#pragma once

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
struct RecordingHandler {
    struct Report {
        std::string message;
        std::exception_ptr exception;
        std::string what;  // describe_exception(exception)
    };
    std::shared_ptr<std::vector<Report>> reports = std::make_shared<std::vector<Report>>();

    explicit RecordingHandler(bulb::EventLoop& loop) {
        loop.set_exception_handler([r = reports](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            r->push_back({c.message, c.exception, c.exception ? bulb::describe_exception(c.exception) : ""});
        });
    }
    std::size_t size() const { return reports->size(); }
    const Report& operator[](std::size_t i) const { return reports->at(i); }
};

/// Runs exactly one iteration of `loop` (asyncio's test_utils.run_briefly).
inline void run_once(bulb::EventLoop& loop) {
    loop.stop();
    loop.run_forever();
}

/// Runs `loop` until `done()` holds, failing the test after `limit` of wall time.
template <class Pred>
bool run_until(bulb::EventLoop& loop, Pred done, std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        auto guard = loop.call_later(1ms, [] {});  // bounds the poll
        run_once(loop);
        guard.cancel();
    }
    return true;
}

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
