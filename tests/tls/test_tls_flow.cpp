// SPDX-License-Identifier: MIT
/// @file
/// TLS flow control: a large transfer each way through an echo server, with pause_writing honoured.
#include "tls_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>

#include <unistd.h>

using namespace bulb_tls_test;

TEST_SUITE("tls") {

TEST_CASE_FIXTURE(Fixture, "16 MiB each way through an echo server, with pause_writing honoured") {
    constexpr std::size_t total = 16u << 20;
    const std::string pattern = random_bytes(1 << 16, 3);
    auto sr = std::make_shared<Record>();
    auto server = wait(loop.create_server(factory(sr, true, false), "127.0.0.1", 0, [&] {
        bulb::ServerOptions o;
        o.tls = server_ctx();
        return o;
    }()));
    auto r = std::make_shared<Record>();
    std::size_t sent = 0;
    bool mismatch = false, stalled = false;
    int max_over = 0;
    bulb::Transport* tp = nullptr;
    std::function<void(bulb::TimePoint)> resume_when_echo_paused = [&](bulb::TimePoint deadline) {
        if (sr->pauses >= 1 || loop.time() >= deadline) {
            tp->resume_reading();
            return;
        }
        (void)loop.call_later(std::chrono::milliseconds(10), [&, deadline] { resume_when_echo_paused(deadline); });
    };
    auto pump = [&] {
        while (sent < total && !r->paused) {
            tp->write(bulb::as_bytes(std::string_view(pattern)));
            sent += pattern.size();
        }
    };
    auto conn = wait(loop.create_connection(
        [&] {
            auto p = std::make_unique<Recorder>(r, false, false);
            p->on_data = [&](Record& rec, bulb::ByteView d) {
                std::size_t start = rec.received - d.size();
                for (std::size_t i = 0; i < d.size(); i += 997)
                    if (static_cast<char>(d[i]) != pattern[(start + i) % pattern.size()]) mismatch = true;
            };
            p->on_resume = [&](Record&) { pump(); };
            // Stop reading once, until the echo side's writes have backed up and paused it (or
            // 30 s passed: a fixed 300 ms stall was not enough on a loaded host under ASan).
            p->on_data = [&, check = p->on_data](Record& rec, bulb::ByteView d) {
                check(rec, d);
                if (!stalled && rec.received >= total / 4) {
                    stalled = true;
                    tp->pause_reading();
                    resume_when_echo_paused(loop.time() + std::chrono::seconds(30));
                }
            };
            return p;
        },
        "127.0.0.1", server.sockets().at(0).port(), tls_connect(client_ctx())));
    tp = conn.transport.get();
    pump();
    CHECK(r->paused);  // 16 MiB cannot fit under the default high-water mark
    bool done = run_until([&] {
        if (tp->get_write_buffer_size() > tp->get_write_buffer_limits().high + pattern.size()) ++max_over;
        return r->received == total;
    }, 120s);
    CHECK_MESSAGE(done, "received " << r->received);
    CHECK(sent == total);
    CHECK(!mismatch);
    CHECK(r->pauses >= 1);
    CHECK(r->resumes == r->pauses);
    CHECK(sr->pauses >= 1);  // the echo side was paused too (it stops reading meanwhile)
    CHECK(sr->received == total);
    CHECK(max_over == 0);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
    CHECK(!r->ec);
    CHECK(!sr->ec);
}

TEST_CASE_FIXTURE(Fixture, "sendfile over TLS: the pread + write fallback, flow-controlled; fallback=false refuses") {
    constexpr std::size_t size = 8u << 20;
    const std::string content = random_bytes(size, 7);
    char name[] = "/tmp/bulb_tls_sendfile_XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::unlink(name);
    REQUIRE(::pwrite(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()));
    auto sr = std::make_shared<Record>();
    bulb::Server server = tls_server(sr, server_ctx(), false);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    REQUIRE(run_until([&] { return sr->made; }));
    bulb::Transport* t = sr->transport;
    auto refused = settle(t->sendfile(fd, 0, 10, false));
    CHECK_THROWS_AS(refused.result(), bulb::Error);
    bulb::Future<std::uint64_t> f = loop.sendfile(*t, fd, 100, size - 100);
    CHECK(t->get_protocol() != nullptr);
    CHECK(wait(f, std::chrono::milliseconds(60000)) == size - 100);
    CHECK(dynamic_cast<Recorder*>(t->get_protocol()) != nullptr);  // the application's protocol is back
    t->write(std::string_view("!"));
    REQUIRE(run_until([&] { return r->received == size - 100 + 1; }, std::chrono::milliseconds(60000)));
    CHECK(r->data == content.substr(100) + "!");
    CHECK(sr->pauses == sr->resumes);  // the application was told nothing it was not told back
    ::close(fd);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost && sr->lost; }));
}

}  // TEST_SUITE
