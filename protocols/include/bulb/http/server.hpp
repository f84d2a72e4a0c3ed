// SPDX-License-Identifier: MIT
/// @file
/// http::Server: an HTTP/1.1 server in callback style on RequestParser (keep-alive, pipelining
/// answered in order, 100-continue, Upgrade, header-read, body-read and idle timeouts, a connection limit,
/// graceful shutdown, TLS through ServerOptions::tls with ALPN "http/1.1").
#pragma once

#include <bulb/future.hpp>
#include <bulb/http/parser.hpp>
#include <bulb/loop.hpp>
#include <bulb/options.hpp>
#include <bulb/protocol.hpp>
#include <bulb/server.hpp>
#include <bulb/transport.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulb::http {

class ServerConnection;

/// A header field to send.
using Header = std::pair<std::string, std::string>;

/// One request and its response. Made by the connection when a request head arrives and handed
/// to the handler. A handler that answers later keeps it alive with shared_from_this(); once
/// the connection is gone its writes are dropped. Loop thread only.
class BULB_API Exchange : public std::enable_shared_from_this<Exchange> {
public:
    /// The request head (fields are views into it).
    const RequestHead& request() const noexcept { return head_; }

    /// Body pieces as they arrive, then on_end once the request is complete (with its trailers).
    /// Set them from the handler; pieces arriving before are dropped.
    void on_body(UniqueFunction<void(std::string_view)> fn) { on_body_ = std::move(fn); }
    /// See on_body().
    void on_end(UniqueFunction<void(const Fields& trailers)> fn) { on_end_ = std::move(fn); }
    /// Backpressure: no body piece is delivered between pause_body() and resume_body(), and the
    /// transport stops reading meanwhile.
    void pause_body();
    /// See pause_body().
    void resume_body();

    /// Starts the response. Without `content_length` the body is chunked (HTTP/1.1) or ends
    /// with the connection (HTTP/1.0). A Date field is added unless `headers` has one, and
    /// Connection: close when the connection ends after it. Throws InvalidStateError when
    /// called twice. Written from the handler's call (or on_body/on_end), the bytes gather
    /// with the other answers to the same read and leave in one write; otherwise at once.
    void write_head(int status, const std::vector<Header>& headers = {},
                    std::optional<std::uint64_t> content_length = std::nullopt);
    /// A piece of the response body (dropped for HEAD requests: only the head is sent).
    void write(std::string_view data);
    /// Ends the response. The next pipelined request is handled only after this.
    void finish();
    /// write_head + write + finish with Content-Length, head and body in one write.
    void respond(int status, std::string_view body, std::string_view content_type = "text/plain",
                 std::vector<Header> headers = {});
    /// True after finish().
    bool finished() const noexcept { return finished_; }
    /// True once write_head() was called.
    bool head_written() const noexcept { return head_written_; }
    /// The response's write buffer is above its high-water mark: wait for on_drain.
    bool write_paused() const noexcept;
    /// Called once when the write buffer drains after write_paused() was true.
    void on_drain(UniqueFunction<void()> fn) { on_drain_ = std::move(fn); }

    /// Called once if the connection goes away before this exchange is over (request read and
    /// response finished): waiting code wakes up (on_drain is called too).
    void on_close(UniqueFunction<void()> fn) { on_close_ = std::move(fn); }
    /// True once the connection went away before this exchange was over.
    bool connection_gone() const noexcept { return gone_; }

    /// After write_head(101) (or a 2xx to CONNECT): hands the connection to `protocol`, which
    /// gets connection_made() and then the bytes that followed the request, inside this call.
    void accept_upgrade(std::unique_ptr<Protocol> protocol);

    /// The transport (peer address, TLS details through get_extra_info, sendfile). Only while
    /// !connection_gone() and the exchange is not over. Sends what the exchange gathered first.
    Transport& transport() const noexcept;

private:
    friend class ServerConnection;
    Exchange(ServerConnection& connection, RequestHead head) : connection_(&connection), head_(std::move(head)) {}

    ServerConnection* connection_;  ///< null once the connection is gone or the exchange is over
    RequestHead head_;
    UniqueFunction<void(std::string_view)> on_body_;
    UniqueFunction<void(const Fields&)> on_end_;
    UniqueFunction<void()> on_drain_;
    UniqueFunction<void()> on_close_;
    bool gone_ = false;
    bool head_written_ = false;
    bool chunked_ = false;
    bool finished_ = false;
    bool request_done_ = false;
    bool keep_ = true;
};

/// Called once per request head; respond now or later (keep the Exchange& until finish()).
/// An exception escaping it gets a 500 (when no head was written yet) and the connection closed.
using Handler = UniqueFunction<void(Exchange&)>;

/// Settings of an http::Server.
struct ServerSettings {
    /// Parser limits (head size, field count, body size, ...).
    ParserOptions parser;
    /// A request head must be complete this long after its first byte (slowloris): 408, close.
    Duration header_timeout = std::chrono::seconds(10);
    /// A request body must be complete this long after its head (slowloris on the body): 408
    /// and close (only close once a response head went out). Time the handler holds the body
    /// paused (pause_body, a coroutine handler not reading) does not count. Raise it for large
    /// uploads over slow links; Duration::max() turns it off.
    Duration body_timeout = std::chrono::seconds(60);
    /// A keep-alive connection with no request in progress is closed after this long.
    Duration idle_timeout = std::chrono::seconds(60);
    /// Connections beyond this many get 503 and are closed at once.
    std::size_t max_connections = 10000;
};

/// An HTTP/1.1 server: listening sockets plus the live connections. A counted handle; loop
/// thread only. Made with Server::create (resolves once listening).
class BULB_API Server {
public:
    /// Listens on host:port (port 0 picks one). `options.tls` turns on TLS; give its context
    /// alpn {"http/1.1"} to announce it.
    static Future<Server> create(EventLoop& loop, Handler handler, std::optional<std::string> host,
                                 std::uint16_t port, ServerSettings settings = {},
                                 const ServerOptions& options = {});
    /// The listening sockets' addresses.
    std::vector<SocketAddress> sockets() const;
    /// Graceful shutdown: stops accepting, closes idle connections now, lets requests in
    /// progress finish (their responses carry Connection: close) and aborts what is left after
    /// `deadline`. The future resolves when every connection is gone.
    Future<void> shutdown(Duration deadline);
    /// Live connections.
    std::size_t connection_count() const noexcept;

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace bulb::http
