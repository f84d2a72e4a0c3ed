// SPDX-License-Identifier: MIT
/// @file
/// TLS against the openssl CLI over 127.0.0.1: bulb client and s_server, s_client and a bulb server, session resumption, a protocol version mismatch.
#include "tls_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace bulb_tls_test;

TEST_SUITE("tls") {

TEST_CASE_FIXTURE(Fixture, "bulb client <-> openssl s_server -rev: data both ways") {
    const auto& pki = Pki::get();
    auto port = free_port();
    Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", pki.srv, "-key",
                  pki.srv_key, "-rev", "-naccept", "1"});
    REQUIRE_MESSAGE(server.wait_for("ACCEPT"), server.output);
    auto r = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r), "127.0.0.1", port, tls_connect(client_ctx())));
    CHECK(conn.transport->get_extra_info("version").value_or("").find("TLS") == 0);
    CHECK(!conn.transport->get_extra_info("cipher").value_or("").empty());
    CHECK(conn.transport->get_extra_info("peercert_subject").value_or("").find("localhost") != std::string::npos);
    conn.transport->write(std::string_view("hello bulb\n"));
    CHECK_MESSAGE(run_until([&] { return r->data.find("blub olleh") != std::string::npos; }), r->data);
    conn.transport->close();
    CHECK(run_until([&] { return r->lost; }));
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "openssl s_client <-> bulb echo server; bulb close sends close_notify") {
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, server_ctx());
    auto port = server.sockets().at(0).port();
    Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", pki.ca,
                  "-verify_return_error", "-verify_hostname", "localhost", "-quiet", "-msg"});
    client.send("ping from s_client\n");
    bool echoed = run_until([&] {
        client.drain();
        return client.output.find("ping from s_client") != std::string::npos;
    });
    CHECK_MESSAGE(echoed, client.output);
    REQUIRE(r->made);
    CHECK(r->data == "ping from s_client\n");
    r->transport->close();
    // s_client -msg shows the alert; with -quiet it exits on the orderly shutdown.
    bool seen = run_until([&] {
        client.drain();
        return client.output.find("close_notify") != std::string::npos;
    });
    CHECK_MESSAGE(seen, client.output);
    CHECK(run_until([&] { return r->lost; }));
    CHECK(!r->ec);
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "session resumption: s_client resumes with the ticket of its first session") {
    const auto& pki = Pki::get();
    auto server_records = std::vector<RecordPtr>();
    auto server = tls_server(
        [&server_records] {
            server_records.push_back(std::make_shared<Record>());
            return std::make_unique<Recorder>(server_records.back(), /*echo=*/true);
        },
        server_ctx());
    std::string session = pki.dir + "/session.pem";
    std::vector<std::string> reused;  // the server's view of each connection
    auto connect = [&](const char* session_flag) {
        Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.sockets().at(0).port()),
                      "-CAfile", pki.ca, "-verify_return_error", "-verify_hostname", "localhost", session_flag,
                      session, "-no_ign_eof"});
        client.send("ping\n");
        // The echo comes after the session ticket: once it is seen, the ticket has been read.
        bool echoed = run_until([&] {
            client.drain();
            return client.output.find("\nping\n") != std::string::npos;
        });
        CHECK_MESSAGE(echoed, client.output);
        REQUIRE(!server_records.empty());
        auto* t = server_records.back()->transport;
        reused.push_back(t ? t->get_extra_info("session_reused").value_or("?") : "gone");
        client.close_stdin();  // s_client sends close_notify, writes the session file and exits
        CHECK(run_until([&] { return client.exited(); }));
        client.drain();
        return client.output;
    };
    std::string first = connect("-sess_out");
    CHECK(first.find("New, TLSv1.3") != std::string::npos);
    std::string second = connect("-sess_in");
    CHECK_MESSAGE(second.find("Reused, TLSv1.3") != std::string::npos, second);
    CHECK(reused == std::vector<std::string>{"0", "1"});
    REQUIRE(server_records.size() == 2);
    CHECK(run_until([&] { return server_records[1]->lost; }));
    CHECK(exceptions.empty());
}

TEST_CASE_FIXTURE(Fixture, "protocol mismatch: a TLS 1.1 client gets a protocol_version alert, the server goes on") {
    const auto& pki = Pki::get();
    auto r = std::make_shared<Record>();
    auto server = tls_server(r, server_ctx());
    auto port = std::to_string(server.sockets().at(0).port());
    // TLS 1.1 needs security level 0 in OpenSSL 3; bulb's contexts require TLS 1.2 at least.
    Child old({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
               "-CAfile", pki.ca});
    old.close_stdin();
    CHECK(run_until([&] { return old.exited(); }));
    old.drain();
    CHECK_MESSAGE(old.output.find("alert protocol version") != std::string::npos, old.output);
    CHECK(!r->made);  // no connection reached the protocol
    CHECK(run_until([&] { return server.connection_count() == 0; }));
    // The server still serves a good client.
    auto r2 = std::make_shared<Record>();
    auto conn = wait(loop.create_connection(factory(r2), "127.0.0.1", server.sockets().at(0).port(),
                                            tls_connect(client_ctx())));
    conn.transport->write(std::string_view("after"));
    CHECK(run_until([&] { return r2->data == "after"; }));
    conn.transport->close();
    CHECK(run_until([&] { return r2->lost; }));
    CHECK(exceptions.empty());
}

}  // TEST_SUITE
