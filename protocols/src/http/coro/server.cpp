// SPDX-License-Identifier: MIT
// Coroutine handlers on top of the callback server: body pieces queue in the Request (the
// connection pauses above 64 KiB queued), each request's handler runs as its own task, started
// eagerly.
#include <bulb/http/coro/server.hpp>

#include <bulb/error.hpp>

namespace bulb::http {

namespace {
constexpr std::size_t high_water = 64 * 1024;
constexpr std::size_t low_water = 16 * 1024;
}  // namespace

/// Moves what the connection delivers into a Request (the callbacks of Exchange).
struct RequestFeed {
    static void attach(const std::shared_ptr<Request>& request) {
        Exchange& ex = *request->exchange_;
        Request* r = request.get();
        ex.on_body([r](std::string_view piece) {
            r->buffered_ += piece.size();
            r->pieces_.emplace_back(piece);
            if (r->buffered_ > high_water && !r->paused_) {
                r->paused_ = true;
                r->exchange_->pause_body();
            }
            r->ready_.set();
        });
        ex.on_end([r](const Fields& trailers) {
            r->trailers_ = trailers;
            r->ended_ = true;
            r->ready_.set();
        });
        ex.on_close([r] { r->ready_.set(); });
    }
};

Request::Request(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}

Task<std::optional<std::string>> Request::read_some() {
    for (;;) {
        if (!pieces_.empty()) {
            std::string piece = std::move(pieces_.front());
            pieces_.pop_front();
            buffered_ -= piece.size();
            if (paused_ && buffered_ <= low_water) {
                paused_ = false;
                exchange_->resume_body();
            }
            co_return std::optional<std::string>(std::move(piece));
        }
        if (ended_) co_return std::nullopt;
        if (exchange_->connection_gone())
            throw Error(errc::incomplete_read, "HTTP request body: the connection went away before its end");
        ready_.clear();
        co_await ready_.wait();
    }
}

Task<std::string> Request::read_all() {
    std::string body;
    for (;;) {
        std::optional<std::string> piece = co_await read_some();
        if (!piece) co_return body;
        body += *piece;
    }
}

namespace {

Task<void> drained(Exchange& ex) {
    if (!ex.write_paused()) co_return;
    auto event = std::make_shared<Event>();
    ex.on_drain([event] { event->set(); });
    co_await event->wait();
}

// The Exchange's callbacks point at the Request: they go when the handler's task ends.
struct DetachFeed {
    Exchange& ex;
    ~DetachFeed() {
        ex.on_body(UniqueFunction<void(std::string_view)>());
        ex.on_end(UniqueFunction<void(const Fields&)>());
        ex.on_close(UniqueFunction<void()>());
        // on_drain stays: drained() holds its own Event, and a FilePump may own it meanwhile.
    }
};

Task<void> run_handler(EventLoop* loop, std::shared_ptr<CoroHandler> handler, std::shared_ptr<Request> request) {
    Exchange& ex = request->exchange();
    DetachFeed detach{ex};
    Response response;
    try {
        Task<Response> task = (*handler)(*request);
        response = co_await std::move(task);
    } catch (const std::exception&) {
        loop->call_exception_handler(  // not ex.transport(): the connection may be gone
            {"Exception in an HTTP coroutine handler", std::current_exception(), nullptr});
        if (!ex.connection_gone() && !ex.finished()) {
            std::vector<Header> close{{"Connection", "close"}};
            ex.respond(500, "internal server error\n", "text/plain", close);
        }
        co_return;
    }
    if (ex.connection_gone() || ex.head_written()) co_return;  // answered through the exchange
    if (!response.stream) {
        ex.respond(response.status, response.body, {}, std::move(response.headers));  // one write
        co_return;
    }
    ex.write_head(response.status, response.headers, response.content_length);
    for (;;) {
        std::optional<std::string> piece = co_await response.stream->next();
        if (!piece || ex.connection_gone()) break;
        ex.write(*piece);
        co_await drained(ex);
    }
    if (!ex.connection_gone()) ex.finish();
}

}  // namespace

Future<Server> serve(EventLoop& loop, CoroHandler handler, std::optional<std::string> host, std::uint16_t port,
                     ServerSettings settings, const ServerOptions& options) {
    auto shared = std::make_shared<CoroHandler>(std::move(handler));
    EventLoop* l = &loop;
    Handler on_request = [shared, l](Exchange& ex) {
        auto request = std::make_shared<Request>(ex.shared_from_this());
        RequestFeed::attach(request);
        Task<void> task = run_handler(l, shared, request);
        // Eager: a handler that does not suspend answers inside this read, so its response
        // gathers with the others of the batch, and no loop iteration is spent to start it.
        create_eager_task(*l, std::move(task));
    };
    return Server::create(loop, std::move(on_request), std::move(host), port, settings, options);
}

}  // namespace bulb::http
