// SPDX-License-Identifier: MIT
/// @file
/// Transport::sendfile / EventLoop::sendfile on TCP (sendfile(2)): a large file whole, a slice
/// by offset and count, the end of file before count, a peer that goes away midway (an error,
/// never a silent success), misuse, and writes refused while a file goes out.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <cstdio>
#include <cstdlib>

#include <fcntl.h>
#include <unistd.h>

using namespace bulb_transport_test;

namespace {

/// A temporary file holding pattern(size); removed (and closed) by the destructor.
struct TempFile {
    int fd = -1;
    std::string path;
    explicit TempFile(std::size_t size) {
        char name[] = "/tmp/bulb_sendfile_XXXXXX";
        fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        path = name;
        std::string block;
        for (std::size_t at = 0; at < size; at += block.size()) {
            block = pattern(std::min<std::size_t>(1 << 20, size - at), at);
            REQUIRE(::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()));
        }
    }
    ~TempFile() {
        ::close(fd);
        ::unlink(path.c_str());
    }
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "sendfile: 24 MiB with sendfile(2), then the connection is usable again") {
    constexpr std::size_t size = 24u << 20;
    TempFile file(size);
    auto srv = recorders([](Recorder& r) { r.keep_data = false; });
    bulb::Server server = serve(srv);
    auto cli = recorders();
    bulb::Connection c = connect(cli, server);
    REQUIRE(run_until([&] { return srv->count_made() == 1; }));
    bulb::Transport* t = srv->all[0]->transport;
    t->write(std::string_view("head:"));
    bulb::Future<std::uint64_t> f = loop.sendfile(*t, file.fd);
    CHECK_THROWS_AS(t->write(std::string_view("x")), bulb::InvalidStateError);  // asyncio: no writes meanwhile
    CHECK_THROWS_AS((void)t->sendfile(file.fd), bulb::InvalidStateError);
    CHECK(wait(f, 20000ms) == size);
    t->write(std::string_view(":tail"));  // writing works again afterwards
    REQUIRE(run_until([&] { return cli->all[0]->data.size() == size + 10; }, 20000ms));
    const std::string& got = cli->all[0]->data;
    CHECK(got.substr(0, 5) == "head:");
    CHECK(pattern_mismatch(got.data() + 5, size) == std::string::npos);
    CHECK(got.substr(size + 5) == ":tail");
    CHECK(::lseek(file.fd, 0, SEEK_CUR) == static_cast<off_t>(size));  // untouched: where write() left it
    c.transport->close();
}

TEST_CASE_FIXTURE(TransportFixture, "sendfile: offset and count send exactly that slice; a short file ends early") {
    TempFile file(100000);
    auto srv = recorders();
    bulb::Server server = serve(srv);
    auto cli = recorders();
    bulb::Connection c = connect(cli, server);
    REQUIRE(run_until([&] { return srv->count_made() == 1; }));
    bulb::Transport* t = srv->all[0]->transport;
    CHECK(wait(t->sendfile(file.fd, 1234, 5000)) == 5000);
    CHECK(wait(t->sendfile(file.fd, 99000, 5000)) == 1000);  // the file ends first: asyncio counts what went
    CHECK(wait(t->sendfile(file.fd, 200000, 10)) == 0);     // past the end: nothing
    REQUIRE(run_until([&] { return cli->all[0]->data.size() == 6000; }));
    CHECK(cli->all[0]->data == pattern(5000, 1234) + pattern(1000, 99000));
    // Misuse throws at once: not a regular file, a closing transport.
    CHECK_THROWS_AS((void)t->sendfile(-1), std::invalid_argument);
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    CHECK_THROWS_AS((void)t->sendfile(pipefd[0]), std::invalid_argument);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    t->close();
    CHECK_THROWS_AS((void)t->sendfile(file.fd), bulb::InvalidStateError);
    c.transport->close();
}

TEST_CASE_FIXTURE(TransportFixture, "sendfile: the peer going away midway fails the future with the OS error") {
    constexpr std::size_t size = 64u << 20;
    TempFile file(size);
    auto srv = recorders();
    bulb::Server server = serve(srv);
    auto cli = recorders([](Recorder& r) { r.keep_data = false; });
    bulb::Connection c = connect(cli, server);
    REQUIRE(run_until([&] { return srv->count_made() == 1; }));
    bulb::Future<std::uint64_t> f = srv->all[0]->transport->sendfile(file.fd);
    REQUIRE(run_until([&] { return cli->all[0]->bytes > (1u << 20); }, 10000ms));
    c.transport->abort();  // RST: the sender's next sendfile(2) fails
    settle(f, 10000ms);
    bool failed = false;
    try {
        f.result();
    } catch (const std::system_error& e) {
        failed = true;
        CHECK(std::string(e.what()).find("sendfile of fd") != std::string::npos);
    }
    CHECK(failed);
    REQUIRE(run_until([&] { return srv->count_lost() == 1; }));
    CHECK(srv->all[0]->lost_ec);  // the protocol hears of it too
}

TEST_CASE_FIXTURE(TransportFixture, "sendfile: close() during the transfer stops it with transport_closed") {
    constexpr std::size_t size = 64u << 20;
    TempFile file(size);
    auto srv = recorders();
    bulb::Server server = serve(srv);
    auto cli = recorders([](Recorder& r) { r.keep_data = false; });
    bulb::Connection c = connect(cli, server);
    REQUIRE(run_until([&] { return srv->count_made() == 1; }));
    c.transport->pause_reading();  // the socket fills: the transfer waits for writability
    bulb::Transport* t = srv->all[0]->transport;
    bulb::Future<std::uint64_t> f = t->sendfile(file.fd);
    run_for(20ms);
    REQUIRE_FALSE(f.done());
    t->close();
    settle(f);
    CHECK_THROWS_AS(f.result(), bulb::Error);
    try {
        f.result();
    } catch (const bulb::Error& e) {
        CHECK(e.code() == bulb::errc::transport_closed);
    }
    c.transport->close();
}

}  // TEST_SUITE
