// SPDX-License-Identifier: MIT
/// @file
/// The coroutine face of http::Server: `Task<Response> handler(Request&)`, with the request
/// body read as it arrives and response bodies streamed from an AsyncGenerator (drained: a
/// piece is produced only when the transport can take it).
#pragma once

#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/event.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/http/server.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bulb::http {

/// What a coroutine handler returns: a whole body, or a stream of pieces (sent chunked, or
/// with Content-Length when content_length is set).
struct Response {
    /// The status code.
    int status = 200;
    /// Header fields to send.
    std::vector<Header> headers;
    /// The whole body (when `stream` is empty).
    std::string body;
    /// Body pieces produced on demand, instead of `body`.
    std::optional<AsyncGenerator<std::string>> stream;
    std::optional<std::uint64_t> content_length;  ///< for streams only

    /// A whole response with Content-Type `content_type`.
    static Response text(int status, std::string body, std::string content_type = "text/plain") {
        Response r;
        r.status = status;
        r.body = std::move(body);
        r.headers.emplace_back("Content-Type", std::move(content_type));
        return r;
    }
};

/// The request a coroutine handler gets. Lives until the handler's task ends. Loop thread
/// only; one task reads the body at a time.
class BULB_API Request {
public:
    /// Internal: made by the server for each request.
    explicit Request(std::shared_ptr<Exchange> exchange);
    /// The request line and header fields.
    const RequestHead& head() const noexcept { return exchange_->request(); }
    /// The next piece of the body, or std::nullopt at its end. Throws bulb::Error
    /// (errc::incomplete_read) when the connection goes away first.
    /// Cancel safety: a cancelled read loses nothing; pieces stay queued for the next one.
    Task<std::optional<std::string>> read_some();
    /// The whole body (at most ParserOptions::max_body_size bytes, which the parser enforces).
    Task<std::string> read_all();
    /// The trailer fields of a chunked body (empty until the body was read to its end).
    const Fields& trailers() const noexcept { return trailers_; }
    /// The exchange underneath (transport details, write_head for 101 upgrades).
    Exchange& exchange() noexcept { return *exchange_; }

private:
    friend struct RequestFeed;
    std::shared_ptr<Exchange> exchange_;
    std::deque<std::string> pieces_;
    std::size_t buffered_ = 0;
    bool ended_ = false;
    bool paused_ = false;
    Fields trailers_;
    Event ready_;
};

/// Handles one request; the returned Response is sent when the task ends. An exception gives
/// a 500 (or an aborted connection when a streamed response had started).
using CoroHandler = UniqueFunction<Task<Response>(Request&)>;

/// An http::Server whose requests each run `handler` as a task of `loop`, started eagerly: it
/// runs inside the read that completed the request head up to its first suspension.
BULB_API Future<Server> serve(EventLoop& loop, CoroHandler handler, std::optional<std::string> host,
                              std::uint16_t port, ServerSettings settings = {}, const ServerOptions& options = {});

}  // namespace bulb::http
