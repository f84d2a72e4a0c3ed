// SPDX-License-Identifier: MIT
/// @file
/// Exceptions escaping protocol callbacks: each reaches the exception handler with the transport
/// named, the connection is aborted (connection_lost with errc::protocol_callback_failed, the
/// peer sees a reset), and the server and loop go on serving other connections.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

using namespace bulb_transport_test;

namespace {

enum class Where { made, data, eof, pause, resume, lost, get_buffer, buffer_updated };

const char* name(Where w) {
    switch (w) {
        case Where::made: return "connection_made";
        case Where::data: return "data_received";
        case Where::eof: return "eof_received";
        case Where::pause: return "pause_writing";
        case Where::resume: return "resume_writing";
        case Where::lost: return "connection_lost";
        case Where::get_buffer: return "get_buffer";
        case Where::buffer_updated: return "buffer_updated";
    }
    return "?";
}

/// A server whose first connection throws from `w` and whose later connections echo; a raw
/// client triggers the callback, then a second raw client checks the server still serves.
void check_server_survives(TransportFixture& fx, Where w) {
    CAPTURE(name(w));
    const bool buffered = w == Where::get_buffer || w == Where::buffer_updated;
    const std::string reply = pattern(16u << 20);
    int index = 0;
    auto set = fx.recorders(
        [&](Recorder& r) {
            r.keep_data = false;
            const bool first = index++ == 0;
            if (!first) {
                r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); };
                return;
            }
            auto boom = [w] { throw std::runtime_error(std::string("boom in ") + name(w)); };
            switch (w) {
                case Where::made: r.on_made = [boom](bulb::Transport&) { boom(); }; break;
                case Where::data:
                case Where::buffer_updated: r.on_data = [boom](bulb::ByteView) { boom(); }; break;
                case Where::eof: r.on_eof = [boom]() -> bool { boom(); return false; }; break;
                case Where::pause:
                case Where::resume:
                    r.on_data = [&r, &reply](bulb::ByteView) { r.transport->write(reply); };
                    (w == Where::pause ? r.on_pause : r.on_resume) = boom;
                    break;
                case Where::lost: r.on_lost = [boom](std::error_code) { boom(); }; break;
                case Where::get_buffer: r.on_get_buffer = boom; break;
            }
        },
        buffered);
    auto server = fx.serve(set);

    Fd first = raw_connect(server.sockets()[0]);
    std::atomic<bool> lost{false};
    ReadResult seen;
    std::jthread reader([&] {
        if (w == Where::pause)  // a peer that does not read, so the server's buffer fills
            while (!lost) std::this_thread::sleep_for(1ms);
        seen = read_to_end(first.get());
    });
    if (w == Where::eof || w == Where::lost)
        ::shutdown(first.get(), SHUT_WR);
    else if (w != Where::made)
        REQUIRE(send_all(first.get(), "trigger"));
    REQUIRE(fx.run_until([&] { return set->size() >= 1 && set->all[0]->is_lost(); }));
    lost = true;
    auto& rec = *set->all[0];

    REQUIRE(fx.reports.size() == 1);
    fx.expect_reports(1);
    const auto& report = fx.reports[0];
    CHECK(report.transport == rec.transport);
    CHECK(report.transport != nullptr);
    CHECK(report.what == std::string("boom in ") + name(w));
    CHECK(report.message.find(name(w)) != std::string::npos);
    CHECK(rec.lost == 1);
    reader.join();
    if (w == Where::lost) {
        CHECK(!rec.lost_ec);  // the connection had ended normally; only the report remains
        CHECK(seen.eof);
    } else {
        CHECK(rec.lost_ec == bulb::errc::protocol_callback_failed);
        CHECK_MESSAGE(seen.error == ECONNRESET, "the peer should see a reset, got eof=", seen.eof, " errno=", seen.error);
    }

    // The server keeps serving.
    Fd second = raw_connect(server.sockets()[0]);
    REQUIRE(send_all(second.get(), "still there?"));
    std::string echoed;
    std::jthread echo_reader([&] { echoed = read_to_end(second.get(), {.keep = true, .stop_after = 12}).data; });
    REQUIRE(fx.run_until([&] { return set->size() == 2 && set->all[1]->bytes == 12; }));
    echo_reader.join();
    CHECK(echoed == "still there?");
    CHECK(server.is_serving());
    second.reset();
    REQUIRE(fx.run_until([&] { return set->all[1]->is_lost(); }));
    server.close();
    fx.wait(server.wait_closed());
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "an exception from connection_made aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::made);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from data_received aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::data);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from eof_received aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::eof);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from pause_writing aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::pause);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from resume_writing aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::resume);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from connection_lost is reported with its transport and nothing else breaks") {
    check_server_survives(*this, Where::lost);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from BufferedProtocol::get_buffer aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::get_buffer);
}
TEST_CASE_FIXTURE(TransportFixture, "an exception from BufferedProtocol::buffer_updated aborts the connection and the server keeps serving") {
    check_server_survives(*this, Where::buffer_updated);
}

TEST_CASE_FIXTURE(TransportFixture, "an exception from a client's connection_made fails create_connection and still delivers connection_lost") {
    Fd listener = raw_listen("127.0.0.1");
    auto set = recorders([](Recorder& r) { r.on_made = [](bulb::Transport&) { throw std::runtime_error("client boom"); }; });
    auto f = settle(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    try {
        f.result();
        FAIL("create_connection should have failed");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == bulb::errc::protocol_callback_failed);
    }
    REQUIRE(run_until([&] { return set->all.at(0)->is_lost(); }));
    CHECK(set->all[0]->lost_ec == bulb::errc::protocol_callback_failed);
    CHECK(set->all[0]->sequence() == "made,lost");
    expect_reports(1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].transport == set->all[0]->transport);
    CHECK(reports[0].what == "client boom");
    Fd p = raw_accept(listener.get());
    REQUIRE(p);
    CHECK(read_to_end(p.get()).error == ECONNRESET);
}

TEST_CASE_FIXTURE(TransportFixture, "a BufferedProtocol whose get_buffer returns an empty buffer is reported and aborted") {
    struct Empty : RecordingBufferedProtocol {
        using RecordingBufferedProtocol::RecordingBufferedProtocol;
        bulb::MutableByteView get_buffer(std::size_t) override { return {}; }
    };
    auto set = recorders();
    auto server = wait(loop.create_server([set] {
        auto r = std::make_shared<Recorder>();
        set->all.push_back(r);
        return std::make_unique<Empty>(r);
    }, "127.0.0.1", 0));
    Fd c = raw_connect(server.sockets()[0]);
    REQUIRE(send_all(c.get(), "data"));
    REQUIRE(run_until([&] { return set->size() == 1 && set->all[0]->is_lost(); }));
    CHECK(set->all[0]->lost_ec == bulb::errc::protocol_callback_failed);
    expect_reports(1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].transport == set->all[0]->transport);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a server whose protocol factory fails drops that connection, reports it, and keeps serving") {
    int made = 0;
    auto set = recorders();
    auto inner = recording_factory(set);
    auto server = wait(loop.create_server(
        [&]() -> std::unique_ptr<bulb::Protocol> {
            ++made;
            if (made == 1) throw std::runtime_error("factory boom");
            if (made == 2) return nullptr;
            return inner();
        },
        "127.0.0.1", 0));
    Fd a = raw_connect(server.sockets()[0]);
    Fd b = raw_connect(server.sockets()[0]);
    REQUIRE(run_until([&] { return made == 2; }));
    CHECK(read_to_end(a.get()).bytes == 0);  // closed at once
    CHECK(read_to_end(b.get()).bytes == 0);
    expect_reports(2);
    REQUIRE(reports.size() == 2);
    CHECK(reports[0].what == "factory boom");
    Fd c = raw_connect(server.sockets()[0]);
    REQUIRE(run_until([&] { return set->size() == 1; }));
    c.reset();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a client whose protocol factory fails gets the exception on its future and no socket is left") {
    Fd listener = raw_listen("127.0.0.1");
    auto f = settle(loop.create_connection([]() -> std::unique_ptr<bulb::Protocol> { throw std::runtime_error("no protocol"); },
                                           "127.0.0.1", sockname(listener.get()).port()));
    CHECK_THROWS_WITH_AS(f.result(), "no protocol", std::runtime_error);
    auto g = settle(loop.create_connection([]() -> std::unique_ptr<bulb::Protocol> { return nullptr; }, "127.0.0.1",
                                           sockname(listener.get()).port()));
    CHECK_THROWS_AS(g.result(), std::invalid_argument);
    CHECK(loop.transport_count() == 0);
}

}  // TEST_SUITE

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "the default exception handler names the callback and describes the transport") {
    // What the default handler prints goes to stderr: catch it in a file while it runs.
    std::string printed;
    std::string described;
    loop.set_exception_handler([&](bulb::EventLoop& l, const bulb::ExceptionContext& c) {
        reports.push_back({c.message, c.exception, c.exception ? bulb::describe_exception(c.exception) : "", c.transport});
        REQUIRE(c.transport);
        described = c.transport->describe();
        std::FILE* capture = std::tmpfile();
        REQUIRE(capture);
        std::fflush(stderr);
        const int saved = ::dup(2);
        ::dup2(::fileno(capture), 2);
        l.default_exception_handler(c);
        std::fflush(stderr);
        ::dup2(saved, 2);
        ::close(saved);
        std::rewind(capture);
        char buf[1024];
        while (std::size_t n = std::fread(buf, 1, sizeof buf, capture)) printed.append(buf, n);
        std::fclose(capture);
    });
    auto set = recorders([](Recorder& r) { r.on_data = [](bulb::ByteView) { throw std::runtime_error("bad frame"); }; });
    auto server = serve(set);
    Fd client = raw_connect(server.sockets()[0]);
    const auto client_port = sockname(client.get()).port();
    REQUIRE(send_all(client.get(), "x"));
    REQUIRE(run_until([&] { return set->size() == 1 && set->all[0]->is_lost(); }));
    expect_reports(1);
    // <StreamTransport fd=N local=127.0.0.1:SERVER peer=127.0.0.1:CLIENT closing>: the handler
    // runs before the connection is closed, so "closing" is not there yet.
    const std::string local = "local=127.0.0.1:" + std::to_string(server.sockets()[0].port());
    const std::string peer = "peer=127.0.0.1:" + std::to_string(client_port);
    CHECK(described.rfind("<StreamTransport fd=", 0) == 0);
    CHECK(described.find(" " + local + " " + peer + ">") != std::string::npos);
    CHECK(printed == "bulb: Exception in protocol.data_received()\n  exception: bad frame\n  transport: " + described + "\n");
}

TEST_CASE("a transport's description says when it is closed") {
    // An inert transport (kept past connection_lost) has no descriptor any more.
    TransportFixture fx;
    auto set = fx.recorders();
    auto server = fx.serve(set);
    auto conn = fx.wait(fx.loop.create_connection(recording_factory(set), "127.0.0.1", server.sockets()[0].port()));
    CHECK(conn.transport->describe().find("peer=127.0.0.1:" + std::to_string(server.sockets()[0].port())) != std::string::npos);
    conn.transport->close();
    CHECK(conn.transport->describe().find(" closing>") != std::string::npos);
    REQUIRE(fx.run_until([&] { return set->size() == 2 && set->all[0]->is_lost() && set->all[1]->is_lost(); }));
    CHECK(conn.transport->describe() == "<StreamTransport closed>");
}

}  // TEST_SUITE
