// SPDX-License-Identifier: MIT
/// @file
/// Wrong-thread calls throw InvalidStateError naming the call (debug mode, as asyncio's debug
/// mode raises "Non-thread-safe operation invoked on an event loop other than the current one");
/// bulb::run() inside a running loop throws up front instead of terminating in its teardown.
#include <bulb/coro.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

/// Runs `call` on another thread while `loop` runs (in debug mode) and returns what it threw.
template <class F>
std::string thrown_from_other_thread(F call) {
    bulb::EventLoop loop;
    loop.set_debug(true);
    std::string what = "(nothing thrown)";
    bool invalid_state = false;
    loop.call_soon([&] {
        std::thread other([&] {
            try {
                call(loop);
            } catch (const bulb::InvalidStateError& e) {
                invalid_state = true;
                what = e.what();
            } catch (const std::exception& e) {
                what = std::string("another exception: ") + e.what();
            }
        });
        other.join();  // the loop thread waits: the loop is running throughout the call
        loop.stop();
    });
    loop.run_forever();
    CHECK(invalid_state);
    return what;
}

bulb::Task<int> one() { co_return 1; }

}  // namespace

TEST_CASE("loop-only entry points called from another thread throw InvalidStateError naming the call") {
    auto noop = [] {};
    auto factory = [] { return std::unique_ptr<bulb::Protocol>(); };
    const std::pair<const char*, std::function<void(bulb::EventLoop&)>> calls[] = {
        {"call_soon", [&](bulb::EventLoop& l) { (void)l.call_soon(noop); }},
        {"call_later", [&](bulb::EventLoop& l) { (void)l.call_later(1s, noop); }},
        {"call_at", [&](bulb::EventLoop& l) { (void)l.call_at(l.time(), noop); }},
        {"add_reader", [&](bulb::EventLoop& l) { l.add_reader(0, noop); }},
        {"remove_writer", [&](bulb::EventLoop& l) { (void)l.remove_writer(0); }},
        {"add_signal_handler", [&](bulb::EventLoop& l) { l.add_signal_handler(SIGUSR1, noop); }},
        {"create_connection", [&](bulb::EventLoop& l) { (void)l.create_connection(factory, "127.0.0.1", 1); }},
        {"create_server", [&](bulb::EventLoop& l) { (void)l.create_server(factory, "127.0.0.1", 0); }},
        {"create_unix_server", [&](bulb::EventLoop& l) { (void)l.create_unix_server(factory, "/tmp/x"); }},
        {"close", [&](bulb::EventLoop& l) { l.close(); }},
    };
    for (const auto& [name, call] : calls) {
        CAPTURE(name);
        std::string what = thrown_from_other_thread(call);
        CHECK(what.find(std::string(name) + ": Non-thread-safe operation") == 0);
    }
}

TEST_CASE("call_soon_threadsafe stays allowed from another thread in debug mode") {
    bulb::EventLoop loop;
    loop.set_debug(true);
    bool ran = false;
    std::thread other([&] {
        std::this_thread::sleep_for(10ms);
        loop.call_soon_threadsafe([&] {
            ran = true;
            loop.stop();
        });
    });
    loop.run_forever();
    other.join();
    CHECK(ran);
}

TEST_CASE("bulb::run() inside a running loop throws InvalidStateError up front") {
    std::string what;
    int result = bulb::run([](std::string* what) -> bulb::Task<int> {
        try {
            (void)bulb::run(one());
        } catch (const bulb::InvalidStateError& e) {
            *what = e.what();
        }
        co_return co_await one();
    }(&what));
    CHECK(result == 1);
    CHECK(what.find("cannot be called from a running event loop") != std::string::npos);
}

TEST_CASE("destroying a loop while another loop runs on the thread does not throw") {
    bulb::EventLoop outer;
    bool done = false;
    outer.call_soon([&] {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        {
            // The inner loop owns a transport, so closing it would run that loop to deliver
            // connection_lost -- impossible while `outer` runs: its destructor must not throw.
            bulb::EventLoop inner;
            (void)inner.connect_accepted_socket([] { return std::make_unique<bulb::Protocol>(); }, fds[0]);
        }
        ::close(fds[1]);
        done = true;
        outer.stop();
    });
    outer.run_forever();
    CHECK(done);
}
