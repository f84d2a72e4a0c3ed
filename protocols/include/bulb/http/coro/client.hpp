// SPDX-License-Identifier: MIT
/// @file
/// http::Client: a coroutine HTTP/1.1 client with a keep-alive connection pool per host.
#pragma once

#include <bulb/coro/streams.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/http/parser.hpp>
#include <bulb/http/server.hpp>
#include <bulb/protocols/frame_buffer.hpp>
#include <bulb/tls_context.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bulb::http {

/// Settings of a Client.
struct ClientOptions {
    /// The whole request (connecting, sending, the response to its last byte); TimeoutError.
    Duration timeout = std::chrono::seconds(30);
    /// Idle keep-alive connections kept per scheme://host:port.
    std::size_t max_idle_per_host = 8;
    /// The context for https URLs; by default TlsContext::client(): the peer's certificate and
    /// host name are verified.
    std::optional<TlsContext> tls;
    /// Limits on responses (max_body_size bounds a response body).
    ParserOptions parser;
};

/// A complete response.
struct ClientResponse {
    /// The status line and header fields.
    ResponseHead head;
    /// The whole body.
    std::string body;
    /// Trailer fields of a chunked body.
    Fields trailers;
    /// The status code.
    int status() const noexcept { return head.status; }
};

/// Sends requests and reads whole responses. Redirects are never followed (a 3xx is returned
/// as it is). Only http and https URLs ("http://host[:port]/path", "[::1]" for IPv6).
/// Loop thread only; one Client may serve many tasks at once (each request takes its own
/// pooled or new connection).
/// Cancel safety: a cancelled request closes its connection (it never returns to the pool).
class BULB_API Client {
public:
    /// A client with its own connection pool, on the running loop.
    explicit Client(ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends `method url` with `headers` and `body` (Content-Length framing; Host is added).
    /// Throws std::invalid_argument for a bad URL, ParseError for a bad response,
    /// bulb::Error (incomplete_read) when the connection ends early, TimeoutError.
    Task<ClientResponse> request(std::string method, std::string url, std::vector<Header> headers = {},
                                 std::string body = {});
    /// request("GET", url).
    Task<ClientResponse> get(std::string url);
    /// Idle pooled connections, over all hosts.
    std::size_t idle_connections() const noexcept;
    /// Closes the idle connections.
    void close();

    struct Connection;

private:
    Task<ClientResponse> send(std::string method, std::string url, std::vector<Header> headers, std::string body);
    ClientOptions options_;
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace bulb::http
