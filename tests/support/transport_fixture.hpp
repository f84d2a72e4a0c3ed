// SPDX-License-Identifier: MIT
/// @file
/// TransportFixture: an event loop for transport tests, and the resource audit that ends every
/// one of them (RELIABILITY.md §4, "harness invariants"):
///
/// - the loop runs briefly (pending connection_lost calls are delivered), is closed, and
///   transport_count() must be 0 — a transport still open before close() is reported by the loop
///   as "unclosed transport", which fails the test unless the test declared it;
/// - the process's descriptor count (/proc/self/fd) is back to what it was before the loop;
/// - the exception handler was called exactly as often as the test declared (expect_reports),
///   or any number of times after allow_reports();
/// - every recorder made through the fixture satisfies the callback chart (recording_protocol.hpp).
///
/// Use with TEST_CASE_FIXTURE; locals of the test body (raw sockets, threads) are destroyed before
/// the audit runs.
#pragma once

#include "loop_audit.hpp"
#include "loop_fixture.hpp"
#include "recording_protocol.hpp"

#include <bulb/bulb.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <dirent.h>

namespace bulb_transport_test {

using namespace std::chrono_literals;

using bulb_test::count_open_fds;

/// Resident set size in bytes (VmRSS of /proc/self/status).
inline std::size_t rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    std::size_t kb = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::strtoull(line + 6, nullptr, 10);
    std::fclose(f);
    return kb * 1024;
}

/// One call of the exception handler.
struct HandlerReport {
    std::string message;
    std::exception_ptr exception;
    std::string what;
    bulb::Transport* transport;
};

class TransportFixture : public bulb_test::LoopAudit {
public:
    TransportFixture() {
        loop.set_exception_handler([this](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            reports.push_back({c.message, c.exception, c.exception ? bulb::describe_exception(c.exception) : "",
                               c.transport});
        });
    }
    TransportFixture(const TransportFixture&) = delete;
    TransportFixture& operator=(const TransportFixture&) = delete;

    ~TransportFixture() { audit(); }

    bulb::EventLoop loop;
    std::vector<HandlerReport> reports;

    /// Handler reports whose message contains `text`.
    std::size_t reports_containing(const std::string& text) const {
        std::size_t n = 0;
        for (auto& r : reports) n += r.message.find(text) != std::string::npos;
        return n;
    }

    /// A new recorder set whose connections the audit checks.
    RecorderSetPtr recorders(std::function<void(Recorder&)> setup = {}, bool buffered = false) {
        auto s = std::make_shared<RecorderSet>();
        s->setup = std::move(setup);
        s->buffered = buffered;
        sets_.push_back(s);
        return s;
    }

    /// Runs the loop until `done()` holds (checked every couple of milliseconds); false after
    /// `limit` of wall time.
    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            run_for(2ms);
        }
        return true;
    }
    /// Runs the loop for `d` of wall time (it sleeps in poll when idle).
    void run_for(std::chrono::milliseconds d) {
        auto stopper = loop.call_later(d, [this] { loop.stop(); });
        loop.run_forever();
        stopper.cancel();
    }
    /// Exactly one iteration, without blocking.
    void run_once() { bulb_test::run_once(loop); }
    /// Runs until `f` is done (REQUIREs it within `limit`) and returns the future for inspection.
    template <class T>
    bulb::Future<T> settle(bulb::Future<T> f, std::chrono::milliseconds limit = 5000ms) {
        bool ok = run_until([&] { return f.done(); }, limit);
        REQUIRE_MESSAGE(ok, "future not done in time");
        return f;
    }
    /// Runs until `f` is done and returns its result (throws what it holds).
    template <class T>
    T wait(bulb::Future<T> f, std::chrono::milliseconds limit = 5000ms) {
        settle(f, limit);
        if constexpr (std::is_void_v<T>)
            f.result();
        else
            return std::move(f.result());
    }

    /// A server of recording protocols on `host`, port 0.
    bulb::Server serve(RecorderSetPtr set, const std::string& host = "127.0.0.1",
                       const bulb::ServerOptions& options = {}) {
        return wait(loop.create_server(recording_factory(set), host, 0, options));
    }
    /// A recording client connected to `server`'s first socket.
    bulb::Connection connect(RecorderSetPtr set, const bulb::Server& server) {
        auto addr = server.sockets().at(0);
        return wait(loop.create_connection(recording_factory(set), addr.host(), addr.port()));
    }

    /// The audit (also run by the destructor; idempotent).
    void audit() {
        if (audited_) return;
        audited_ = true;
        auto lines = [this] {
            std::vector<std::string> out;
            for (auto& r : reports) out.push_back(r.message + (r.what.empty() ? "" : ": " + r.what));
            return out;
        };
        LoopAudit::audit(loop, lines, [this](auto done) { run_until(done, 200ms); });
        for (auto& s : sets_)
            for (auto& r : s->all)
                for (auto& p : final_problems(*r)) FAIL_CHECK("callback chart: " << p);
    }

private:
    bool audited_ = false;
    std::vector<RecorderSetPtr> sets_;
};

}  // namespace bulb_transport_test
