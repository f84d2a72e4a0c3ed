// SPDX-License-Identifier: MIT
// A raw TCP client for the HTTP server tests: it records every byte the server sends and
// whether the connection was lost, so a test can send hand-written requests and read answers.
#pragma once

#include <bulb/bulb.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace bulb_http_test {

/// Records what arrives; its state is shared with the Peer so it outlives the protocol.
struct Client : bulb::Protocol {
    std::shared_ptr<std::string> got = std::make_shared<std::string>();
    std::shared_ptr<bool> lost = std::make_shared<bool>(false);
    void data_received(bulb::ByteView data) override { got->append(bulb::as_string_view(data)); }
    void connection_lost(std::error_code) override { *lost = true; }
};

/// The connection and the bytes received on it.
struct Peer {
    bulb::TransportPtr transport;
    std::shared_ptr<std::string> got;
    std::shared_ptr<bool> lost;
};

/// Connects to 127.0.0.1:port (runs the loop until connected).
inline Peer connect(bulb::EventLoop& loop, std::uint16_t port) {
    auto client = std::make_unique<Client>();
    Peer p{nullptr, client->got, client->lost};
    auto c = loop.run_until_complete(loop.create_connection(
        [&client]() -> std::unique_ptr<bulb::Protocol> { return std::move(client); }, "127.0.0.1", port));
    p.transport = c.transport;
    return p;
}

}  // namespace bulb_http_test
