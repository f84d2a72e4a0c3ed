// SPDX-License-Identifier: MIT
/// @file
/// Ending connections: close() flushes then sends FIN, abort() discards and resets, a peer reset
/// in the middle of a write, writes after close, inert handles, and EventLoop::close() with
/// connections still open. connection_lost runs exactly once in every case.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <thread>

using namespace bulb_transport_test;

namespace {

/// A raw listener and a bulb client connected to it; the test accepts the peer side itself.
struct ClientToRaw {
    Fd listener = raw_listen("127.0.0.1");
    RecorderSetPtr set;
    bulb::Connection conn;

    explicit ClientToRaw(TransportFixture& fx) : set(fx.recorders()) {
        conn = fx.wait(fx.loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    }
    Recorder& rec() const { return *set->all.at(0); }
    bulb::Transport& t() const { return *conn.transport; }
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "close by us runs connection_lost once without error and the peer reads everything then EOF") {
    ClientToRaw c(*this);
    ReadResult seen;
    std::jthread peer([&] {
        Fd p = raw_accept(c.listener.get());
        seen = read_to_end(p.get(), {.keep = true});
    });
    c.t().write("one ");
    c.t().write("two");
    c.t().close();
    CHECK(c.t().is_closing());
    CHECK_FALSE(c.t().is_reading());
    CHECK_FALSE(c.rec().is_lost());  // never from inside close()
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.data == "one two");
    CHECK(c.rec().sequence() == "made,lost");
    CHECK(!c.rec().lost_ec);
}

TEST_CASE_FIXTURE(TransportFixture, "close with a full write buffer delivers every byte before the FIN") {
    ClientToRaw c(*this);
    constexpr std::size_t total = 8u << 20;
    const std::string payload = pattern(total);
    std::atomic<bool> closed{false};
    ReadResult seen;
    std::jthread peer([&] {
        Fd p = raw_accept(c.listener.get());
        while (!closed) std::this_thread::sleep_for(1ms);
        seen = read_to_end(p.get(), {.check_pattern = true, .chunk = 64 * 1024, .pause = 200us});  // slowly
    });
    c.t().write(bulb::as_bytes(payload));
    REQUIRE(c.t().get_write_buffer_size() > 0);  // the kernel could not take it all
    c.t().close();
    closed = true;
    CHECK(c.t().get_write_buffer_size() > 0);
    REQUIRE(run_until([&] { return c.rec().is_lost(); }, 20000ms));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.error == 0);
    CHECK(seen.bytes == total);
    CHECK(seen.mismatch == std::string::npos);
    CHECK(!c.rec().lost_ec);
    CHECK(c.rec().lost == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "abort discards the write buffer and the peer sees a reset") {
    ClientToRaw c(*this);
    constexpr std::size_t total = 32u << 20;
    const std::string payload = pattern(total);
    std::atomic<bool> aborted{false};
    ReadResult seen;
    std::jthread peer([&] {
        Fd p = raw_accept(c.listener.get());
        while (!aborted) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(50ms);  // the RST is on its way
        seen = read_to_end(p.get());
    });
    c.t().write(bulb::as_bytes(payload));
    REQUIRE(c.t().get_write_buffer_size() > 0);
    run_for(20ms);
    c.t().abort();
    CHECK(c.t().is_closing());
    CHECK(c.t().get_write_buffer_size() == 0);
    CHECK_FALSE(c.rec().is_lost());
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    aborted = true;
    peer.join();
    CHECK_FALSE(seen.eof);
    CHECK(seen.error == ECONNRESET);
    CHECK(seen.bytes < total);
    CHECK(c.rec().sequence() == "made,pause,lost");
    CHECK(!c.rec().lost_ec);
}

TEST_CASE_FIXTURE(TransportFixture, "a peer reset in the middle of a large write ends the connection once with the OS error") {
    ClientToRaw c(*this);
    const std::string payload = pattern(32u << 20);
    std::jthread peer([&] {
        Fd p = raw_accept(c.listener.get());
        read_to_end(p.get(), {.stop_after = 1u << 20});
        close_with_rst(p);
    });
    c.t().write(bulb::as_bytes(payload));
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    peer.join();
    auto ec = c.rec().lost_ec;
    CHECK_MESSAGE((ec == std::errc::connection_reset || ec == std::errc::broken_pipe), ec.message());
    CHECK(c.rec().lost == 1);
    CHECK(c.rec().sequence().rfind("made,pause", 0) == 0);
    CHECK(c.t().is_closing());
    run_for(20ms);  // nothing more arrives
    CHECK(c.rec().lost == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "a peer reset while idle is reported as ECONNRESET") {
    ClientToRaw c(*this);
    Fd p = raw_accept(c.listener.get());
    REQUIRE(send_all(p.get(), "x"));
    REQUIRE(run_until([&] { return c.rec().bytes == 1; }));
    close_with_rst(p);
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    CHECK(c.rec().lost_ec == std::errc::connection_reset);
    CHECK(c.rec().sequence() == "made,data,lost");
}

TEST_CASE_FIXTURE(TransportFixture, "close and abort are idempotent and connection_lost still runs once") {
    ClientToRaw c(*this);
    c.t().close();
    c.t().close();
    c.t().abort();
    c.t().abort();
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    c.t().close();
    c.t().abort();
    run_for(20ms);
    CHECK(c.rec().lost == 1);
    CHECK(!c.rec().lost_ec);
}

TEST_CASE_FIXTURE(TransportFixture, "abort after close with a pending buffer ends the connection at once") {
    ClientToRaw c(*this);
    Fd p = raw_accept(c.listener.get());
    const std::string payload = pattern(16u << 20);
    c.t().write(bulb::as_bytes(payload));
    c.t().close();
    REQUIRE(c.t().get_write_buffer_size() > 0);
    c.t().abort();
    CHECK(c.t().get_write_buffer_size() == 0);
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    CHECK(c.rec().lost == 1);
    set_io_timeouts(p.get(), 2s);
    auto seen = read_to_end(p.get());
    CHECK(seen.error == ECONNRESET);
}

TEST_CASE_FIXTURE(TransportFixture, "closing inside connection_made or data_received works and loses the connection once") {
    auto server_side = recorders([](Recorder& r) {
        r.on_data = [&r](bulb::ByteView) { r.transport->close(); };
    });
    auto server = serve(server_side);
    auto quick = recorders([](Recorder& r) { r.on_made = [](bulb::Transport& t) { t.close(); }; });
    auto conn1 = connect(quick, server);
    CHECK(conn1.transport->is_closing());
    auto talker = recorders();
    auto conn2 = connect(talker, server);
    conn2.transport->write("bye");
    REQUIRE(run_until([&] { return quick->count_lost() == 1 && talker->count_lost() == 1 && server_side->count_lost() == 2; }));
    CHECK(quick->all[0]->sequence() == "made,lost");
    CHECK(talker->all[0]->sequence() == "made,eof,lost");
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "writes after close are dropped and counted, and a kept TransportPtr is inert after connection_lost") {
    ClientToRaw c(*this);
    bulb::TransportPtr kept = c.conn.transport;
    c.conn = {};
    kept->close();
    kept->write("dropped 1");
    kept->write(std::string(1 << 20, 'x'));
    const bulb::ByteView parts[] = {bulb::as_bytes("a"), bulb::as_bytes("b")};
    kept->writelines(parts);
    CHECK(kept->get_dropped_writes() == 3);
    CHECK(kept->get_write_buffer_size() == 0);
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    // After connection_lost: the handle still works, and does nothing.
    CHECK(kept->is_closing());
    CHECK(kept->get_protocol() == nullptr);
    CHECK(kept->get_fd() == -1);
    CHECK_FALSE(kept->is_reading());
    kept->write("dropped 4");
    kept->writelines(parts);
    CHECK(kept->get_dropped_writes() == 5);
    kept->pause_reading();
    kept->resume_reading();
    kept->set_write_buffer_limits(100, 10);
    CHECK(kept->get_write_buffer_limits().high == 100);
    kept->close();
    kept->abort();
    kept->write_eof();
    CHECK(kept->get_extra_info("fd") == "-1");
    CHECK_THROWS_AS(kept->set_protocol(nullptr), std::invalid_argument);
    // set_protocol on the lost connection hands the protocol back (as TLS transports do): none
    // is installed, kept alive by the dead transport, or ever called (found by the
    // transport-operation fuzzer).
    auto late = std::make_shared<bulb_transport_test::Recorder>();
    auto back = kept->set_protocol(std::make_unique<bulb_transport_test::RecordingProtocol>(late));
    CHECK(back != nullptr);
    CHECK(kept->get_protocol() == nullptr);
    back.reset();
    CHECK(late->destroyed);
    run_for(10ms);
    CHECK(c.rec().lost == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "write and writelines after write_eof throw InvalidStateError") {
    ClientToRaw c(*this);
    c.t().write("before");
    c.t().write_eof();
    CHECK_THROWS_AS(c.t().write("after"), bulb::InvalidStateError);
    const bulb::ByteView parts[] = {bulb::as_bytes("a")};
    CHECK_THROWS_AS(c.t().writelines(parts), bulb::InvalidStateError);
    c.t().write_eof();  // idempotent
    c.t().close();
    REQUIRE(run_until([&] { return c.rec().is_lost(); }));
    CHECK(c.rec().lost == 1);
}

TEST_CASE_FIXTURE(TransportFixture, "closing the loop with connections open delivers connection_lost before close() returns") {
    auto server_side = recorders();
    auto server = serve(server_side);
    auto client_side = recorders();
    auto conn = connect(client_side, server);
    REQUIRE(run_until([&] { return server_side->count_made() == 1; }));
    const std::string payload = pattern(8u << 20);
    conn.transport->write(bulb::as_bytes(payload));  // and one with a full buffer
    REQUIRE(loop.transport_count() == 2);

    loop.close();
    CHECK(loop.transport_count() == 0);
    CHECK(client_side->all[0]->lost == 1);
    CHECK(server_side->all[0]->lost == 1);
    CHECK(client_side->all[0]->lost_ec == bulb::errc::loop_closed);
    CHECK(server_side->all[0]->lost_ec == bulb::errc::loop_closed);
    expect_reports(2);
    REQUIRE(reports.size() == 2);
    for (auto& r : reports) {
        CHECK(r.message.find("unclosed transport") != std::string::npos);
        CHECK((r.transport == client_side->all[0]->transport || r.transport == server_side->all[0]->transport));
    }
    CHECK(reports[0].transport != reports[1].transport);
    CHECK(conn.transport->is_closing());
    CHECK(conn.transport->get_protocol() == nullptr);
    conn.transport->write("after the loop closed");
    CHECK(conn.transport->get_dropped_writes() == 1);
    CHECK_FALSE(server.is_serving());
}

TEST_CASE_FIXTURE(TransportFixture, "a client reconnecting from connection_lost while the loop closes leaves nothing open") {
    auto server_side = recorders();
    auto server = serve(server_side);
    const auto addr = server.sockets()[0];
    int reconnects = 0;
    std::vector<bulb::Future<bulb::Connection>> attempts;
    auto set = recorders();
    set->setup = [&](Recorder& r) {
        r.on_lost = [&](std::error_code) {  // an auto-reconnecting client
            ++reconnects;
            attempts.push_back(loop.create_connection(recording_factory(set), addr.host(), addr.port()));
        };
    };
    auto conn = connect(set, server);
    REQUIRE(run_until([&] { return server_side->count_made() == 1; }));
    conn = {};
    loop.close();
    CHECK(reconnects >= 1);
    CHECK(loop.transport_count() == 0);
    for (auto& f : attempts) CHECK(f.done());
    allow_reports();  // "unclosed transport" for each connection the close found
    CHECK(reports_containing("unclosed transport") >= 2);
    // The audit checks that no descriptor is left open.
}

}  // TEST_SUITE
