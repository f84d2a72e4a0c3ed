// SPDX-License-Identifier: MIT
/// @file
/// Wrong-thread calls throw InvalidStateError naming the call (debug mode, as asyncio's debug
/// mode raises "Non-thread-safe operation invoked on an event loop other than the current one");
/// bulb::run() inside a running loop throws up front instead of terminating in its teardown.
#include <bulb/coro.hpp>
#include <bulb/datagram.hpp>
#include <bulb/pipe.hpp>
#include <bulb/subprocess.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <typeinfo>

#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

/// Runs `call` on another thread while `loop` runs (in debug mode) and returns what it threw.
template <class F>
std::string thrown_from_other_thread(bulb::EventLoop& loop, F call) {
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

/// The same on a new loop.
template <class F>
std::string thrown_from_other_thread(F call) {
    bulb::EventLoop loop;
    return thrown_from_other_thread(loop, std::move(call));
}

struct NoExtension : bulb::LoopExtension {};

/// A few loop iterations: lets close() deliver connection_lost.
void spin(bulb::EventLoop& loop) {
    for (int i = 0; i < 3; ++i) {
        (void)loop.call_soon([&] { loop.stop(); });
        loop.run_forever();
    }
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
        {"create_unix_connection", [&](bulb::EventLoop& l) { (void)l.create_unix_connection(factory, "/tmp/x"); }},
        {"create_datagram_endpoint",
         [&](bulb::EventLoop& l) {
             bulb::DatagramEndpointOptions o;
             o.local_addr = bulb::HostPort{"127.0.0.1", 0};
             (void)l.create_datagram_endpoint([] { return std::unique_ptr<bulb::DatagramProtocol>(); }, o);
         }},
        {"getaddrinfo", [&](bulb::EventLoop& l) { (void)l.getaddrinfo("localhost", "80"); }},
        {"getnameinfo", [&](bulb::EventLoop& l) { (void)l.getnameinfo(bulb::SocketAddress::from_ip("127.0.0.1", 80)); }},
        {"connect_read_pipe", [&](bulb::EventLoop& l) { (void)l.connect_read_pipe(factory, 0); }},
        {"subprocess_exec",
         [&](bulb::EventLoop& l) {
             (void)l.subprocess_exec([] { return std::unique_ptr<bulb::SubprocessProtocol>(); }, {"true"});
         }},
        {"run_in_executor", [&](bulb::EventLoop& l) { (void)l.run_in_executor([] { return 1; }); }},
        {"set_default_executor", [&](bulb::EventLoop& l) { l.set_default_executor(nullptr); }},
        {"add_extension",
         [&](bulb::EventLoop& l) { (void)l.add_extension(typeid(NoExtension), std::make_unique<NoExtension>()); }},
        {"set_exception_handler", [&](bulb::EventLoop& l) { l.set_exception_handler(nullptr); }},
    };
    for (const auto& [name, call] : calls) {
        CAPTURE(name);
        std::string what = thrown_from_other_thread(call);
        CHECK(what.find(std::string(name) + ": Non-thread-safe operation") == 0);
    }
}

TEST_CASE("transport calls from another thread throw InvalidStateError naming the call") {
    using Call = std::function<void(bulb::Transport&)>;
    const std::pair<const char*, Call> calls[] = {
        {"Transport::write", [](bulb::Transport& t) { t.write("x"); }},
        {"Transport::writelines", [](bulb::Transport& t) {
             const bulb::ByteView b[] = {bulb::as_bytes(std::string_view("x"))};
             t.writelines(b);
         }},
        {"Transport::write_eof", [](bulb::Transport& t) { t.write_eof(); }},
        {"Transport::pause_reading", [](bulb::Transport& t) { t.pause_reading(); }},
        {"Transport::resume_reading", [](bulb::Transport& t) { t.resume_reading(); }},
        {"Transport::set_write_buffer_limits", [](bulb::Transport& t) { t.set_write_buffer_limits(1024); }},
        {"Transport::close", [](bulb::Transport& t) { t.close(); }},
        {"Transport::abort", [](bulb::Transport& t) { t.abort(); }},
        {"Transport::set_protocol",
         [](bulb::Transport& t) { (void)t.set_protocol(std::make_unique<bulb::Protocol>()); }},
        {"sendfile", [](bulb::Transport& t) { (void)t.sendfile(0); }},
        {"sendfile", [](bulb::Transport& t) { (void)t.get_loop().sendfile(t, 0); }},
    };
    for (const auto& [name, call] : calls) {
        CAPTURE(name);
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        bulb::EventLoop loop;
        auto conn = loop.run_until_complete(
            loop.connect_accepted_socket([] { return std::make_unique<bulb::Protocol>(); }, fds[0]));
        bulb::Transport& t = *conn.transport;
        std::string what = thrown_from_other_thread(loop, [&](bulb::EventLoop&) { call(t); });
        CHECK(what.find(std::string(name) + ": Non-thread-safe operation") == 0);
        CHECK(!t.is_closing());  // the refused call changed nothing
        t.close();
        spin(loop);
        ::close(fds[1]);
    }
}

TEST_CASE("datagram and pipe transport calls from another thread throw InvalidStateError naming the call") {
    bulb::EventLoop loop;
    bulb::DatagramEndpointOptions o;
    o.local_addr = bulb::HostPort{"127.0.0.1", 0};
    auto endpoint = loop.run_until_complete(
        loop.create_datagram_endpoint([] { return std::make_unique<bulb::DatagramProtocol>(); }, o));
    bulb::DatagramTransport& d = *endpoint.transport;
    const auto self = d.get_sockname();
    std::string what = thrown_from_other_thread(loop, [&](bulb::EventLoop&) { d.sendto("x", self); });
    CHECK(what.find("DatagramTransport::sendto: Non-thread-safe operation") == 0);
    what = thrown_from_other_thread(loop, [&](bulb::EventLoop&) { d.close(); });
    CHECK(what.find("DatagramTransport::close: Non-thread-safe operation") == 0);
    CHECK(!d.is_closing());
    d.close();

    int p[2];
    REQUIRE(::pipe(p) == 0);
    auto pipe = loop.run_until_complete(
        loop.connect_write_pipe([] { return std::make_unique<bulb::Protocol>(); }, p[1]));
    what = thrown_from_other_thread(loop, [&](bulb::EventLoop&) { pipe.transport->write("x"); });
    CHECK(what.find("Transport::write: Non-thread-safe operation") == 0);
    pipe.transport->close();
    spin(loop);
    ::close(p[0]);
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
