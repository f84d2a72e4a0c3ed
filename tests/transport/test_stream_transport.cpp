// SPDX-License-Identifier: MIT
/// @file
/// Stream transports over real loopback sockets: the callback order, create_connection's
/// resolution after connection_made, half-close, socket options and information, set_protocol.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <thread>

using namespace bulb_transport_test;

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "a bulb client and a bulb server exchange data and both see made, data, eof, lost") {
    auto server_side = recorders([](Recorder& r) {
        r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); };  // echo
    });
    auto server = serve(server_side);
    auto client_side = recorders();
    auto conn = connect(client_side, server);
    conn.transport->write("hello");
    REQUIRE(run_until([&] { return client_side->all[0]->data == "hello"; }));
    conn.transport->write_eof();
    // The server gets EOF; eof_received() returns false, so it closes; the client sees EOF then.
    REQUIRE(run_until([&] { return client_side->count_lost() == 1 && server_side->count_lost() == 1; }));
    CHECK(client_side->all[0]->sequence() == "made,data,eof,lost");
    CHECK(server_side->all[0]->sequence() == "made,data,eof,lost");
    CHECK(!client_side->all[0]->lost_ec);
    CHECK(!server_side->all[0]->lost_ec);
    server.close();
    wait(server.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "create_connection resolves only after connection_made has returned") {
    Fd listener = raw_listen("127.0.0.1");
    auto set = recorders();
    bool future_done_inside_made = true;
    bulb::Future<bulb::Connection>* fut_ptr = nullptr;
    set->setup = [&](Recorder& r) {
        r.on_made = [&](bulb::Transport&) { future_done_inside_made = fut_ptr->done(); };
    };
    auto fut = loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port());
    fut_ptr = &fut;
    int made_when_resolved = -1;
    fut.add_done_callback([&] { made_when_resolved = set->all.empty() ? 0 : set->all[0]->made; });
    auto conn = wait(fut);
    run_until([&] { return made_when_resolved != -1; });
    CHECK_FALSE(future_done_inside_made);
    CHECK(made_when_resolved == 1);
    CHECK(conn.protocol<RecordingProtocol>() != nullptr);
    conn.transport->close();
    run_until([&] { return set->count_lost() == 1; });
}

TEST_CASE_FIXTURE(TransportFixture, "data sent at once by the peer is never delivered before connection_made") {
    // The server side: a raw client sends right after connecting, before the loop runs at all.
    auto set = recorders();
    auto server = serve(set);
    std::vector<Fd> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(raw_connect(server.sockets()[0]));
        REQUIRE(send_all(clients.back().get(), "early bytes " + std::to_string(i)));
    }
    REQUIRE(run_until([&] {
        if (set->size() != 5) return false;
        for (auto& r : set->all)
            if (r->bytes == 0) return false;
        return true;
    }));
    for (auto& r : set->all) CHECK(r->sequence().rfind("made,data", 0) == 0);  // the recorder flags any misorder
    // The client side: the peer writes the moment it accepts.
    Fd listener = raw_listen("127.0.0.1");
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        send_all(c.get(), "greeting");
    });
    auto client_side = recorders();
    auto conn = wait(loop.create_connection(recording_factory(client_side), "127.0.0.1",
                                            sockname(listener.get()).port()));
    REQUIRE(run_until([&] { return client_side->all[0]->is_lost(); }));
    CHECK(client_side->all[0]->sequence() == "made,data,eof,lost");
    CHECK(client_side->all[0]->data == "greeting");
    clients.clear();
    server.close();
    server.abort_clients();
    wait(server.wait_closed());
}

TEST_CASE_FIXTURE(TransportFixture, "a peer closing cleanly gives data, eof_received, then connection_lost without error") {
    Fd listener = raw_listen("127.0.0.1");
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        send_all(c.get(), "last words");
    });  // the peer closes after sending
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
    CHECK(set->all[0]->data == "last words");
    CHECK(!set->all[0]->lost_ec);
    CHECK(conn.transport->is_closing());
}

TEST_CASE_FIXTURE(TransportFixture, "write_eof delivers EOF to the peer while reading goes on") {
    Fd listener = raw_listen("127.0.0.1");
    ReadResult seen;
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        seen = read_to_end(c.get(), {.keep = true});
        if (seen.eof) send_all(c.get(), "reply after your EOF");
    });
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    CHECK(conn.transport->can_write_eof());
    conn.transport->write("request");
    conn.transport->write_eof();
    CHECK_FALSE(conn.transport->is_closing());
    CHECK(conn.transport->is_reading());
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.data == "request");
    CHECK(set->all[0]->data == "reply after your EOF");
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
    CHECK(!set->all[0]->lost_ec);
}

TEST_CASE_FIXTURE(TransportFixture, "write_eof with buffered data sends the data first, then the EOF") {
    Fd listener = raw_listen("127.0.0.1");
    const std::string big = pattern(4 << 20);
    ReadResult seen;
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        std::this_thread::sleep_for(100ms);  // let the writer's buffer fill
        seen = read_to_end(c.get(), {.check_pattern = true});
    });
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    conn.transport->write(bulb::as_bytes(big));
    CHECK(conn.transport->get_write_buffer_size() > 0);
    conn.transport->write_eof();
    REQUIRE(run_until([&] { return conn.transport->get_write_buffer_size() == 0; }));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.bytes == big.size());
    CHECK(seen.mismatch == std::string::npos);
    conn.transport->close();
    run_until([&] { return set->all[0]->is_lost(); });
}

TEST_CASE_FIXTURE(TransportFixture, "eof_received returning true keeps the transport open for writing") {
    Fd listener = raw_listen("127.0.0.1");
    ReadResult seen;
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        send_all(c.get(), "question");
        ::shutdown(c.get(), SHUT_WR);
        seen = read_to_end(c.get(), {.keep = true});
    });
    auto set = recorders([&](Recorder& r) {
        r.on_eof = [&r, this] {
            r.transport->write("answer");
            loop.call_later(20ms, [t = bulb::TransportPtr(r.transport)] {
                t->write(" and more");
                t->close();
            });
            return true;
        };
    });
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    REQUIRE(run_until([&] { return set->all[0]->eofs == 1; }));
    CHECK_FALSE(conn.transport->is_closing());
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.data == "answer and more");
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
}

TEST_CASE_FIXTURE(TransportFixture, "eof_received returning false closes the transport and the peer sees EOF") {
    Fd listener = raw_listen("127.0.0.1");
    ReadResult seen;
    std::jthread peer([&] {
        Fd c = raw_accept(listener.get());
        ::shutdown(c.get(), SHUT_WR);
        seen = read_to_end(c.get());
    });
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    peer.join();
    CHECK(seen.eof);
    CHECK(seen.error == 0);
    CHECK(set->all[0]->sequence() == "made,eof,lost");
    CHECK(!set->all[0]->lost_ec);
}

TEST_CASE_FIXTURE(TransportFixture, "TCP_NODELAY is on for connected and accepted transports") {
    auto server_side = recorders();
    auto server = serve(server_side);
    auto client_side = recorders();
    auto conn = connect(client_side, server);
    REQUIRE(run_until([&] { return server_side->count_made() == 1; }));
    for (bulb::Transport* t : {conn.transport.get(), server_side->all[0]->transport}) {
        int v = 0;
        socklen_t len = sizeof v;
        REQUIRE(::getsockopt(t->get_fd(), IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
        CHECK(v != 0);
    }
    conn.transport->close();
    server.close();
    REQUIRE(run_until([&] { return server_side->count_lost() == 1 && client_side->count_lost() == 1; }));
}

TEST_CASE_FIXTURE(TransportFixture, "get_peername, get_sockname and get_extra_info describe both ends") {
    Fd listener = raw_listen("127.0.0.1");
    auto listen_addr = sockname(listener.get());
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", listen_addr.port()));
    Fd accepted = raw_accept(listener.get());
    REQUIRE(accepted);
    bulb::SocketAddress peer_of_raw;
    socklen_t len = peer_of_raw.capacity();
    ::getpeername(accepted.get(), peer_of_raw.data(), &len);
    peer_of_raw.set_size(len);

    auto& t = *conn.transport;
    CHECK(t.get_peername() == listen_addr);
    CHECK(t.get_sockname() == peer_of_raw);
    CHECK(t.get_peername().to_string() == "127.0.0.1:" + std::to_string(listen_addr.port()));
    CHECK(t.get_extra_info("peername") == listen_addr.to_string());
    CHECK(t.get_extra_info("sockname") == peer_of_raw.to_string());
    CHECK(t.get_extra_info("fd") == std::to_string(t.get_fd()));
    CHECK(t.get_extra_info("no such thing") == std::nullopt);
    CHECK(&t.get_loop() == &loop);
    t.close();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    CHECK(t.get_fd() == -1);
    CHECK(t.get_peername().family() == AF_UNSPEC);
}

TEST_CASE_FIXTURE(TransportFixture, "set_protocol swaps the protocol, returns the old one and routes later data to the new one") {
    Fd listener = raw_listen("127.0.0.1");
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    Fd peer = raw_accept(listener.get());
    REQUIRE(send_all(peer.get(), "for the first"));
    REQUIRE(run_until([&] { return set->all[0]->data == "for the first"; }));

    auto second = std::make_shared<Recorder>();
    auto second_set = recorders();
    second_set->all.push_back(second);  // audited with the others
    second->adopt(*conn.transport);
    auto old = conn.transport->set_protocol(std::make_unique<RecordingProtocol>(second));
    set->all[0]->detach();
    REQUIRE(old);
    CHECK(static_cast<RecordingProtocol*>(old.get())->recorder() == set->all[0]);
    CHECK(conn.protocol<RecordingProtocol>()->recorder() == second);
    CHECK_THROWS_AS(conn.transport->set_protocol(nullptr), std::invalid_argument);

    REQUIRE(send_all(peer.get(), "for the second"));
    peer.reset();
    REQUIRE(run_until([&] { return second->is_lost(); }));
    CHECK(second->data == "for the second");
    CHECK(second->sequence() == "adopted,data,eof,lost");
    CHECK(set->all[0]->sequence() == "made,data");  // the old protocol saw nothing more
    CHECK_FALSE(set->all[0]->destroyed);
    old.reset();
    CHECK(set->all[0]->destroyed);
}

}  // TEST_SUITE
