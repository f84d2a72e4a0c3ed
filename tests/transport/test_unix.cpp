// SPDX-License-Identifier: MIT
/// @file
/// Unix-domain sockets: servers and clients on a path and on a Linux abstract name, stale socket
/// files, a non-socket file in the way, cleanup_socket, and connect_accepted_socket on socketpair()
/// and accepted TCP descriptors.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <sys/stat.h>
#include <sys/un.h>

using namespace bulb_transport_test;

namespace {

/// A private directory (mkdtemp), removed with what is left in it.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/bulb-unix-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}
bool is_socket(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

/// An abstract name unique to this process and call.
std::string abstract_name() {
    static int n = 0;
    return std::string(1, '\0') + "bulb-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

RecorderSetPtr echo_set(TransportFixture& fx) {
    return fx.recorders([](Recorder& r) { r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); }; });
}

/// A bulb client at `path` sends `text` and waits for the echo; closes afterwards.
void round_trip(TransportFixture& fx, const std::string& path, const std::string& text) {
    auto set = fx.recorders();
    auto conn = fx.wait(fx.loop.create_unix_connection(recording_factory(set), path));
    CHECK(conn.transport->get_peername().family() == AF_UNIX);
    conn.transport->write(text);
    REQUIRE(fx.run_until([&] { return set->all[0]->data.size() >= text.size(); }));
    CHECK(set->all[0]->data == text);
    conn.transport->close();
    REQUIRE(fx.run_until([&] { return set->all[0]->is_lost(); }));
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "a Unix server on a path serves Unix clients and removes its file on close") {
    TempDir dir;
    const auto path = dir.file("s.sock");
    auto set = echo_set(*this);
    auto server = wait(loop.create_unix_server(recording_factory(set), path));
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0].family() == AF_UNIX);
    CHECK(server.sockets()[0].host() == path);
    CHECK(is_socket(path));
    round_trip(*this, path, "over a unix socket");
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
    server.close();
    CHECK_FALSE(exists(path));
    wait(server.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "a Unix server on an abstract name serves clients and leaves no file") {
    const auto name = abstract_name();
    auto set = echo_set(*this);
    auto server = wait(loop.create_unix_server(recording_factory(set), name));
    REQUIRE(server.sockets().size() == 1);
    CHECK(server.sockets()[0].host()[0] == '@');
    round_trip(*this, name, "abstract");
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
    // The name is free again.
    auto again = wait(loop.create_unix_server(recording_factory(set), name));
    again.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a stale socket file left by a dead server is replaced") {
    TempDir dir;
    const auto path = dir.file("stale.sock");
    {
        Fd dead(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto addr = bulb::SocketAddress::from_unix_path(path);
        REQUIRE(::bind(dead.get(), addr.data(), addr.size()) == 0);
        REQUIRE(::listen(dead.get(), 1) == 0);
    }  // closed without unlinking: the file stays
    REQUIRE(is_socket(path));
    auto refused = settle(loop.create_unix_connection(recording_factory(recorders()), path));
    CHECK_THROWS_AS(refused.result(), bulb::Error);
    auto set = echo_set(*this);
    auto server = wait(loop.create_unix_server(recording_factory(set), path));
    round_trip(*this, path, "fresh server");
    server.close();
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "a file that is not a socket at the path makes create_unix_server fail and stays") {
    TempDir dir;
    const auto path = dir.file("regular");
    std::ofstream(path) << "precious";
    auto f = settle(loop.create_unix_server(recording_factory(recorders()), path));
    CHECK_THROWS_AS(f.result(), bulb::Error);
    try {
        f.result();
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::file_exists);  // said plainly: "... which exists and is not a socket"
    }
    std::ifstream in(path);
    std::string content;
    in >> content;
    CHECK(content == "precious");
}

TEST_CASE_FIXTURE(TransportFixture, "cleanup_socket=false leaves the socket file behind") {
    TempDir dir;
    const auto path = dir.file("kept.sock");
    auto server = wait(loop.create_unix_server(recording_factory(recorders()), path, {.cleanup_socket = false}));
    server.close();
    CHECK(is_socket(path));
}

TEST_CASE_FIXTURE(TransportFixture, "closing a Unix server does not remove a file another server has since put at its path") {
    TempDir dir;
    const auto path = dir.file("shared.sock");
    auto first = wait(loop.create_unix_server(recording_factory(recorders()), path));
    auto set = echo_set(*this);
    auto second = wait(loop.create_unix_server(recording_factory(set), path));  // replaces the file
    first.close();
    CHECK(is_socket(path));
    round_trip(*this, path, "second still reachable");
    second.close();
    CHECK_FALSE(exists(path));
    REQUIRE(run_until([&] { return set->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "create_unix_connection fails with ENOENT for a missing path") {
    TempDir dir;
    auto f = settle(loop.create_unix_connection(recording_factory(recorders()), dir.file("missing.sock")));
    try {
        f.result();
        FAIL("expected an error");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::no_such_file_or_directory);
    }
    CHECK_THROWS_AS(loop.create_unix_connection(recording_factory(recorders()), std::string(200, 'x')),
                    std::invalid_argument);
}

TEST_CASE_FIXTURE(TransportFixture, "connect_accepted_socket wraps one end of a socketpair") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Fd peer(sv[1]);
    set_io_timeouts(peer.get(), 5s);
    auto set = recorders();
    auto conn = wait(loop.connect_accepted_socket(recording_factory(set), sv[0]));
    CHECK(conn.transport->get_fd() == sv[0]);
    CHECK((::fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
    REQUIRE(send_all(peer.get(), "from the pair"));
    REQUIRE(run_until([&] { return set->all[0]->data == "from the pair"; }));
    conn.transport->write("back");
    conn.transport->write_eof();
    auto seen = read_to_end(peer.get(), {.keep = true});
    CHECK(seen.eof);
    CHECK(seen.data == "back");
    peer.reset();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
    CHECK(::fcntl(sv[0], F_GETFD) == -1);  // the transport closed it
}

TEST_CASE_FIXTURE(TransportFixture, "connect_accepted_socket wraps a TCP socket accepted elsewhere") {
    Fd listener = raw_listen("127.0.0.1");
    Fd client = raw_connect(sockname(listener.get()));
    Fd accepted = raw_accept(listener.get());
    REQUIRE(accepted);
    auto set = recorders([](Recorder& r) { r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); }; });
    auto conn = wait(loop.connect_accepted_socket(recording_factory(set), accepted.release()));
    CHECK(conn.transport->get_peername() == sockname(client.get()));
    std::string echoed;
    std::jthread reader([&] { echoed = read_to_end(client.get(), {.keep = true, .stop_after = 4}).data; });
    REQUIRE(send_all(client.get(), "ping"));
    REQUIRE(run_until([&] { return set->all[0]->bytes == 4; }));
    reader.join();
    CHECK(echoed == "ping");
    conn.transport->abort();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    CHECK(read_to_end(client.get()).error == ECONNRESET);
}

}  // TEST_SUITE
