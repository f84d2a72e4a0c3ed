// SPDX-License-Identifier: MIT
/// @file
/// IdleTimer (include/bulb/idle_timer.hpp): its logic on the virtual clock (exact deadlines,
/// each kind, repeats, lazy re-arming), then real loopback connections closed by it from a
/// callback protocol and from a stream task (RELIABILITY.md test 14, read-idle timeout).
#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

bulb::EventLoop virtual_loop() {
    bulb::LoopOptions o;
    o.virtual_clock = true;
    return bulb::EventLoop(o);
}

/// Seconds since `t0` on the loop clock.
double since(bulb::EventLoop& loop, bulb::TimePoint t0) { return std::chrono::duration<double>(loop.time() - t0).count(); }

struct Report {
    bulb::Idle kind;
    double at;
};

}  // namespace

TEST_SUITE("idle timer") {

TEST_CASE("all-idle fires once the limit passes with no activity, at the exact deadline") {
    bulb::EventLoop loop = virtual_loop();
    auto t0 = loop.time();
    std::vector<Report> got;
    bulb::IdleTimer idle(loop, 10s, [&](bulb::Idle k) {
        got.push_back({k, since(loop, t0)});
        loop.stop();
    });
    idle.start();
    CHECK(idle.running());
    loop.run_forever();
    REQUIRE(got.size() == 1);
    CHECK(got[0].kind == bulb::Idle::all);
    CHECK(got[0].at == doctest::Approx(10.0));
    loop.close();
}

TEST_CASE("activity moves the deadline without creating timers per read (lazy re-arm)") {
    bulb::EventLoop loop = virtual_loop();
    auto t0 = loop.time();
    std::vector<Report> got;
    bulb::IdleTimer idle(loop, 10s, [&](bulb::Idle k) {
        got.push_back({k, since(loop, t0)});
        loop.stop();
    });
    idle.start();
    // 1,000 reads spread over the first 5 s, then silence: idle at 5 + 10 s.
    for (int i = 1; i <= 1000; ++i) loop.call_later(i * 5ms, [&] { idle.on_read(); });
    loop.run_forever();
    REQUIRE(got.size() == 1);
    CHECK(got[0].at == doctest::Approx(15.0));
    // One timer at start, one re-arm when it fired early at 10 s, one for the next report
    // (25 s) after the report at 15 s: not one per read.
    CHECK(idle.timers_armed() == 3);
    idle.stop();
    loop.close();
}

TEST_CASE("read, write and all limits are separate; writes do not reset the read limit") {
    bulb::EventLoop loop = virtual_loop();
    auto t0 = loop.time();
    std::vector<Report> got;
    bulb::IdleTimer idle(loop, bulb::IdleLimits{.read = 3s, .write = 5s, .all = 4s}, [&](bulb::Idle k) {
        got.push_back({k, since(loop, t0)});
    });
    idle.start();
    // Writes every second until 10 s; one read at 2 s.
    for (int i = 1; i <= 10; ++i) loop.call_later(std::chrono::seconds(i), [&] { idle.on_write(); });
    loop.call_later(2s, [&] { idle.on_read(); });
    loop.call_later(10500ms, [&] {
        idle.stop();
        loop.stop();
    });
    loop.run_forever();
    // Read idle at 2+3 = 5 s, again at 8 s; writes keep write and all quiet until 10 s:
    // write idle would be at 15 s, all at 14 s, both after the stop.
    REQUIRE(got.size() == 2);
    CHECK(got[0].kind == bulb::Idle::read);
    CHECK(got[0].at == doctest::Approx(5.0));
    CHECK(got[1].kind == bulb::Idle::read);
    CHECK(got[1].at == doctest::Approx(8.0));
    loop.close();
}

TEST_CASE("a write limit alone; reports repeat after each further limit while idle") {
    bulb::EventLoop loop = virtual_loop();
    auto t0 = loop.time();
    std::vector<Report> got;
    bulb::IdleTimer idle(loop, bulb::IdleLimits{.read = {}, .write = 2s, .all = {}}, [&](bulb::Idle k) {
        got.push_back({k, since(loop, t0)});
        if (got.size() == 3) loop.stop();
    });
    idle.start();
    loop.call_later(1s, [&] { idle.on_read(); });  // reads do not count
    loop.call_later(1500ms, [&] { idle.on_write(); });
    loop.run_forever();
    REQUIRE(got.size() == 3);
    for (auto& r : got) CHECK(r.kind == bulb::Idle::write);
    CHECK(got[0].at == doctest::Approx(3.5));
    CHECK(got[1].at == doctest::Approx(5.5));
    CHECK(got[2].at == doctest::Approx(7.5));
    loop.close();
}

TEST_CASE("stop() cancels; start() counts again from now; no limit means never running") {
    bulb::EventLoop loop = virtual_loop();
    auto t0 = loop.time();
    std::vector<Report> got;
    bulb::IdleTimer idle(loop, 2s, [&](bulb::Idle k) { got.push_back({k, since(loop, t0)}); });
    idle.start();
    loop.call_later(1s, [&] { idle.stop(); });
    loop.call_later(5s, [&] { idle.start(); });
    loop.call_later(6s, [&] { idle.set_limits(bulb::IdleLimits{.read = {}, .write = {}, .all = 3s}); });
    loop.call_later(20s, [&] { loop.stop(); });
    loop.run_forever();
    // Restarted at 5 s with 2 s, changed at 6 s to 3 s counting from 6 s: 9, 12, 15, 18 s.
    REQUIRE(got.size() == 4);
    CHECK(got[0].at == doctest::Approx(9.0));
    CHECK(got[3].at == doctest::Approx(18.0));
    bulb::IdleTimer never(loop, 0s, [](bulb::Idle) {});
    never.start();
    CHECK_FALSE(never.running());
    idle.stop();
    loop.close();
}

TEST_CASE("the callback may destroy the timer; an exception goes to the loop's handler") {
    bulb::EventLoop loop = virtual_loop();
    int reports = 0;
    loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext&) { ++reports; });
    std::unique_ptr<bulb::IdleTimer> idle;
    idle = std::make_unique<bulb::IdleTimer>(loop, 1s, [&](bulb::Idle) { idle.reset(); });
    idle->start();
    bulb::IdleTimer thrower(loop, 2s, [](bulb::Idle) { throw std::runtime_error("idle callback failed"); });
    thrower.start();
    loop.call_later(3s, [&] { loop.stop(); });
    loop.run_forever();
    CHECK(idle == nullptr);
    CHECK(reports == 1);
    thrower.stop();
    loop.close();
}

}  // TEST_SUITE

namespace {

/// An echo protocol closed after `limit` without reading (the pattern the header shows).
class IdleEcho : public bulb::Protocol {
public:
    IdleEcho(bulb::EventLoop& loop, bulb::Duration limit, int& closed_idle)
        : closed_idle_(closed_idle), idle_(loop, limit, [this](bulb::Idle) {
              ++closed_idle_;
              idle_.stop();
              transport_->close();
          }) {}
    void connection_made(bulb::Transport& t) override {
        transport_ = &t;
        idle_.start();
    }
    void data_received(bulb::ByteView data) override {
        idle_.on_read();
        transport_->write(data);
    }
    void connection_lost(std::error_code) override { idle_.stop(); }

private:
    int& closed_idle_;
    bulb::Transport* transport_ = nullptr;
    bulb::IdleTimer idle_;
};

/// A blocking loopback client socket to 127.0.0.1:port with a receive timeout.
int connect_client(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

/// Runs `loop` until `done` or 5 s of wall time.
template <class Pred>
bool run_until(bulb::EventLoop& loop, Pred done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        auto tick = loop.call_later(2ms, [&loop] { loop.stop(); });
        loop.run_forever();
        tick.cancel();
    }
    return done();
}

/// True if the peer closed `fd` (recv returns 0) right now.
bool peer_closed(int fd) {
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

}  // namespace

TEST_SUITE("idle timer") {

TEST_CASE("real sockets, callback protocol: a silent client is closed after the limit, a dribbling one is not") {
    bulb::EventLoop loop;
    int closed_idle = 0;
    auto server = loop.run_until_complete(loop.create_server(
        [&] { return std::make_unique<IdleEcho>(loop, 200ms, closed_idle); }, "127.0.0.1", 0));
    std::uint16_t port = server.sockets().at(0).port();
    auto t0 = std::chrono::steady_clock::now();
    int silent = connect_client(port);
    int dribbler = connect_client(port);
    // The dribbler sends a byte every 50 ms for 600 ms (3x the limit), then stops.
    double silent_closed_at = -1, dribbler_closed_at = -1;
    int sent = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    REQUIRE(run_until(loop, [&] {
        if (sent < 12 && elapsed() >= 0.05 * (sent + 1)) {
            REQUIRE(::send(dribbler, "x", 1, MSG_NOSIGNAL) == 1);
            ++sent;
        }
        char buf[64];
        while (::recv(dribbler, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        if (silent_closed_at < 0 && peer_closed(silent)) silent_closed_at = elapsed();
        if (dribbler_closed_at < 0 && peer_closed(dribbler)) dribbler_closed_at = elapsed();
        return silent_closed_at >= 0 && dribbler_closed_at >= 0;
    }));
    CHECK(closed_idle == 2);
    CHECK(silent_closed_at >= 0.2);
    CHECK(silent_closed_at < 0.2 + 0.15);  // loaded 2-core machine: a generous margin
    CHECK(dribbler_closed_at >= 0.6 + 0.2 - 0.05);
    CHECK(dribbler_closed_at < 0.8 + 0.15);
    ::close(silent);
    ::close(dribbler);
    server.close();
    loop.run_until_complete(server.wait_closed());
    loop.close();
}

TEST_CASE("real sockets, streams: a read loop with an IdleTimer ends a silent connection") {
    bulb::EventLoop loop;
    int idled = 0, lines = 0;
    auto serve = [&](bulb::StreamReader reader, bulb::StreamWriter writer) -> bulb::Task<> {
        bulb::IdleTimer idle(bulb::get_running_loop(), 150ms, [&](bulb::Idle) {
            ++idled;
            writer.close();  // the pending read then sees EOF
        });
        idle.start();
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) break;
            idle.on_read();
            ++lines;
        }
        idle.stop();
    };
    bulb::StreamOptions so;
    auto start = [&]() -> bulb::Task<bulb::Server> { co_return co_await bulb::start_server(serve, "127.0.0.1", 0, so); };
    auto server = loop.run_until_complete(bulb::create_task(loop, start()));
    int fd = connect_client(server.sockets().at(0).port());
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(::send(fd, "a\nb\n", 4, MSG_NOSIGNAL) == 4);
    double closed_at = -1;
    REQUIRE(run_until(loop, [&] {
        if (peer_closed(fd))
            closed_at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return closed_at >= 0;
    }));
    CHECK(lines == 2);
    CHECK(idled == 1);
    CHECK(closed_at >= 0.15);
    CHECK(closed_at < 0.15 + 0.15);
    ::close(fd);
    server.close();
    loop.run_until_complete(server.wait_closed());
    loop.close();
}

}  // TEST_SUITE
