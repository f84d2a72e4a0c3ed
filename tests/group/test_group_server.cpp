// SPDX-License-Identifier: MIT
/// @file
/// Serving on every loop of a group: SO_REUSEPORT listeners and one listener handing sockets out
/// (round robin, least loaded); closing with clients connected; a loop whose callback throws.
#include "group_support.hpp"

#include <bulb/coro.hpp>
#include <bulb/coro/group_streams.hpp>
#include <bulb/group_server.hpp>

#include <mutex>

using namespace group_test;

namespace {

/// Echoes; "boom" throws from data_received (the loop reports it and aborts the connection).
class Echo : public bulb::Protocol {
    bulb::Transport* t_ = nullptr;

public:
    void connection_made(bulb::Transport& t) override { t_ = &t; }
    void data_received(bulb::ByteView data) override {
        if (std::string_view(reinterpret_cast<const char*>(data.data()), data.size()) == "boom")
            throw std::runtime_error("boom from a client");
        t_->write(data);
    }
};

std::function<std::unique_ptr<bulb::Protocol>()> echo_factory() {
    return [] { return std::make_unique<Echo>(); };
}

}  // namespace

TEST_CASE("SO_REUSEPORT listeners: connections spread over every loop, one port") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0);
    REQUIRE(server.sockets().size() == 1);
    const std::uint16_t port = server.sockets()[0].port();
    CHECK(port != 0);
    std::vector<int> clients;
    for (int i = 0; i < 64; ++i) {
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        CHECK(round_trip(fd, "hello " + std::to_string(i)) == "hello " + std::to_string(i));
        clients.push_back(fd);
    }
    auto accepted = server.accepted_per_loop();
    REQUIRE(accepted.size() == 2);
    CHECK(accepted[0] + accepted[1] == 64);
    CHECK(accepted[0] > 0);  // all 64 on one socket: a chance of 2^-63 with a fair hash
    CHECK(accepted[1] > 0);
    CHECK(server.connection_count() == 64);
    for (int fd : clients) ::close(fd);
    server.close();
    server.wait_closed();
    CHECK(server.connection_count() == 0);
    group.close();
}

TEST_CASE("one listener, round robin: accepted sockets go to each loop in turn") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0, {.balance = bulb::GroupBalance::round_robin});
    const std::uint16_t port = server.sockets().at(0).port();
    std::vector<int> clients;
    for (int i = 0; i < 10; ++i) {
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        CHECK(round_trip(fd, "x") == "x");
        clients.push_back(fd);
    }
    CHECK(server.accepted_per_loop() == std::vector<std::uint64_t>{5, 5});
    CHECK(server.connection_counts() == std::vector<std::size_t>{5, 5});
    for (int fd : clients) ::close(fd);
    server.close();
    server.wait_closed();
    group.close();
}

TEST_CASE("one listener, least loaded: a new connection goes to the loop with fewest live ones") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0, {.balance = bulb::GroupBalance::least_loaded});
    const std::uint16_t port = server.sockets().at(0).port();
    std::vector<int> clients;
    for (int i = 0; i < 6; ++i) {  // each echo makes sure its connection is counted first
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        CHECK(round_trip(fd, "x") == "x");
        clients.push_back(fd);
    }
    CHECK(server.connection_counts() == std::vector<std::size_t>{3, 3});
    // Empty loop 1 (its connections are the odd ones: 0 went to loop 0 on a tie), then the next
    // three connections all go to loop 1.
    for (int i = 1; i < 6; i += 2) ::close(clients[static_cast<std::size_t>(i)]);
    CHECK(wait_for([&] { return server.connection_counts()[1] == 0; }));
    std::vector<int> more;
    for (int i = 0; i < 3; ++i) {
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        CHECK(round_trip(fd, "y") == "y");
        more.push_back(fd);
    }
    CHECK(server.connection_counts() == std::vector<std::size_t>{3, 3});
    CHECK(server.accepted_per_loop() == std::vector<std::uint64_t>{3, 6});
    for (int i = 0; i < 6; i += 2) ::close(clients[static_cast<std::size_t>(i)]);
    for (int fd : more) ::close(fd);
    server.close();
    server.wait_closed();
    group.close();
}

TEST_CASE("a group server closes cleanly with clients connected") {
    for (auto balance : {bulb::GroupBalance::reuse_port, bulb::GroupBalance::round_robin}) {
        CAPTURE(static_cast<int>(balance));
        bulb::LoopGroup group({.loops = 2});
        group.start();
        auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0, {.balance = balance});
        const std::uint16_t port = server.sockets().at(0).port();
        std::vector<int> clients;
        for (int i = 0; i < 8; ++i) {
            int fd = connect_to(port);
            REQUIRE(fd >= 0);
            REQUIRE(round_trip(fd, "a") == "a");
            clients.push_back(fd);
        }
        server.close();
        // No longer listening; the connections still echo (asyncio's rule).
        CHECK(wait_for([&] {
            int fd = connect_to(port);
            if (fd >= 0) ::close(fd);
            return fd < 0;
        }));
        for (int fd : clients) CHECK(round_trip(fd, "still") == "still");
        server.close_clients();
        for (int fd : clients) CHECK(sees_close(fd));
        server.wait_closed();
        CHECK(server.connection_count() == 0);
        for (int fd : clients) ::close(fd);
        group.close();
    }
}

TEST_CASE("the loop group closes a server's live connections when it closes") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0);
    int fd = connect_to(server.sockets().at(0).port());
    REQUIRE(fd >= 0);
    REQUIRE(round_trip(fd, "a") == "a");
    group.close();  // aborts what is open, on every loop
    CHECK(sees_close(fd));
    ::close(fd);
    for (std::size_t i = 0; i < 2; ++i) CHECK(group.loop(i).transport_count() == 0);
}

TEST_CASE("a loop whose callback throws keeps serving, and so do the others") {
    bulb::LoopGroup group({.loops = 2});
    std::mutex m;
    std::vector<std::size_t> reported;
    group.set_exception_handler([&](std::size_t i, bulb::EventLoop&, const bulb::ExceptionContext& c) {
        std::lock_guard lock(m);
        if (c.exception && bulb::describe_exception(c.exception).find("boom from a client") != std::string::npos)
            reported.push_back(i);
    });
    group.start();
    auto server = bulb::create_server(group, echo_factory(), "127.0.0.1", 0, {.balance = bulb::GroupBalance::round_robin});
    const std::uint16_t port = server.sockets().at(0).port();
    int a = connect_to(port);  // loop 0
    int b = connect_to(port);  // loop 1
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    REQUIRE(round_trip(a, "a") == "a");
    REQUIRE(round_trip(b, "b") == "b");
    ::send(a, "boom", 4, MSG_NOSIGNAL);
    CHECK(sees_close(a));  // the transport involved is aborted
    {
        std::lock_guard lock(m);
        CHECK(reported == std::vector<std::size_t>{0});
    }
    CHECK(round_trip(b, "still b") == "still b");
    int c = connect_to(port);  // round robin: loop 0 again
    REQUIRE(c >= 0);
    CHECK(round_trip(c, "c on 0") == "c on 0");
    CHECK(server.accepted_per_loop() == std::vector<std::uint64_t>{2, 1});
    for (int fd : {a, b, c}) ::close(fd);
    server.close();
    server.abort_clients();
    server.wait_closed();
    group.close();
}

namespace {
bulb::Task<> echo_stream(bulb::StreamReader reader, bulb::StreamWriter writer) {
    for (;;) {
        std::string data = co_await reader.read(4096);
        if (data.empty()) break;
        writer.write(data);
        co_await writer.drain();
    }
    writer.close();
}
}  // namespace

TEST_CASE("the coroutine start_server serves on every loop too") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto server = bulb::start_server(group, echo_stream, "127.0.0.1", 0);
    const std::uint16_t port = server.sockets().at(0).port();
    std::vector<int> clients;
    for (int i = 0; i < 32; ++i) {
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        CHECK(round_trip(fd, "co " + std::to_string(i)) == "co " + std::to_string(i));
        clients.push_back(fd);
    }
    auto accepted = server.accepted_per_loop();
    CHECK(accepted[0] > 0);
    CHECK(accepted[1] > 0);
    for (int fd : clients) {
        ::shutdown(fd, SHUT_WR);
        CHECK(sees_close(fd));  // the task saw EOF and closed its writer
        ::close(fd);
    }
    server.close();
    server.wait_closed();
    group.close();
}
