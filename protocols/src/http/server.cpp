// SPDX-License-Identifier: MIT
// http::Server: one ServerConnection protocol per connection, one Exchange at a time (so
// pipelined requests are answered in order), RequestParser for the bytes.
#include <bulb/http/server.hpp>

#include "body_deadline.hpp"

#include <bulb/error.hpp>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <unordered_set>

namespace bulb::http {

namespace {

// Responses gather in the connection's output buffer while a batch of requests is processed
// (one write per batch, as pipelined clients send them); a body piece at least this big goes out
// with what is gathered in one writev instead of being copied.
constexpr std::size_t gather_limit = 16 * 1024;

template <class Int>
void append_number(std::string& out, Int n) {
    char text[24];
    auto [end, ec] = std::to_chars(text, text + sizeof text, n);
    out.append(text, static_cast<std::size_t>(end - text));
}

// "Date: Sat, 05 Dec 2026 03:09:12 GMT\r\n" (RFC 9110 6.6.1, IMF-fixdate), formatted once per
// second per thread, as nginx does. English names whatever the locale (no strftime).
std::string_view date_field() {
    struct Cache {
        std::time_t second = -1;
        char text[64];
        std::size_t size = 0;
    };
    thread_local Cache cache;
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (now.tv_sec != cache.second) {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        ::gmtime_r(&now.tv_sec, &tm);
        int n = std::snprintf(cache.text, sizeof cache.text, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                              days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                              tm.tm_hour, tm.tm_min, tm.tm_sec);
        cache.size = n > 0 ? static_cast<std::size_t>(n) : 0;
        cache.second = now.tv_sec;
    }
    return std::string_view(cache.text, cache.size);
}

}  // namespace

struct Server::State {
    EventLoop* loop = nullptr;
    Handler handler;
    ServerSettings settings;
    std::optional<bulb::Server> server;
    std::unordered_set<ServerConnection*> connections;
    bool shutting_down = false;
};

/// The protocol of one server connection (private to this file).
class ServerConnection final : public Protocol {
public:
    explicit ServerConnection(std::shared_ptr<Server::State> state)
        : state_(std::move(state)), parser_(state_->settings.parser) {}
    ~ServerConnection() override { timer_.cancel(); resume_.cancel(); }

    void connection_made(Transport& transport) override {
        transport_ = &transport;
        if (state_->connections.size() >= state_->settings.max_connections || state_->shutting_down) {
            write_error(503, "too many connections\n");
            return;
        }
        state_->connections.insert(this);
        registered_ = true;
        arm_timer();
    }
    void data_received(ByteView data) override {
        if (!transport_ || transport_->is_closing() || upgraded_) return;
        if (buffer_.empty()) {
            buffer_.borrow(as_string_view(data));
        } else {
            buffer_.append(data);
        }
        try {
            process();
        } catch (...) {
            buffer_.clear();
            throw;
        }
        buffer_.keep();
    }
    bool eof_received() override {
        at_eof_ = true;
        if (!exchange_ && (parser_.in_message() || !buffer_.empty())) return false;  // truncated: just close
        return exchange_ && !exchange_->finished_;  // the response still goes out, then close
    }
    void connection_lost(std::error_code) override {
        out_.clear();
        timer_.cancel();
        resume_.cancel();
        std::shared_ptr<Exchange> ex = std::move(exchange_);
        unregister();
        transport_ = nullptr;
        if (ex) {
            ex->connection_ = nullptr;
            ex->gone_ = true;
            auto drain = std::move(ex->on_drain_);
            auto close = std::move(ex->on_close_);
            release_callbacks(*ex);
            if (drain) drain();
            if (close) close();
        }
    }

    /// The exchange is over: its callbacks go now. A handler's callback often holds the
    /// exchange (shared_from_this()), and kept on the exchange that would be a cycle, leaked.
    static void release_callbacks(Exchange& ex) noexcept {
        ex.on_body_ = nullptr;
        ex.on_end_ = nullptr;
        ex.on_drain_ = nullptr;
        ex.on_close_ = nullptr;
    }
    void pause_writing() override { writing_paused_ = true; }
    void resume_writing() override {
        writing_paused_ = false;
        if (exchange_ && exchange_->on_drain_) {
            auto fn = std::move(exchange_->on_drain_);
            exchange_->on_drain_ = nullptr;
            fn();
        }
    }

    Transport& transport() const noexcept { return *transport_; }
    bool writing_paused() const noexcept { return writing_paused_; }
    EventLoop& loop() const noexcept { return *state_->loop; }

    /// Response bytes: gathered while a batch of requests is processed, sent at once otherwise.
    void write(std::string_view bytes) {
        if (!transport_ || transport_->is_closing()) return;
        out_ += bytes;
        if (!corked_ || out_.size() >= gather_limit) flush();
    }
    /// A body piece (between a chunk's size line and CRLF): small ones are gathered; big ones
    /// leave at once with what is gathered before them, in one writev, uncopied.
    void write_body(std::string_view prefix, std::string_view body, std::string_view suffix) {
        if (!transport_ || transport_->is_closing()) return;
        out_ += prefix;
        if (body.size() < gather_limit) {
            out_ += body;
            write(suffix);
            return;
        }
        ByteView parts[] = {as_bytes(out_), as_bytes(body), as_bytes(suffix)};
        transport_->writelines(parts);  // (before clear(): it writes the terminating NUL over byte 0)
        out_.clear();
    }
    /// Hands what is gathered to the transport.
    void flush() {
        if (out_.empty()) return;
        if (transport_ && !transport_->is_closing()) transport_->write(out_);
        out_.clear();
    }
    /// Sends the gathered bytes unless a batch is being processed (its end sends them).
    void flush_unless_corked() {
        if (!corked_) flush();
    }
    /// The response head, into the output buffer; `content_type` adds a Content-Type field.
    void put_head(Exchange& ex, int status, const std::vector<Header>& headers, std::string_view content_type,
                  std::optional<std::uint64_t> content_length);
    /// Closes after the gathered bytes.
    void close_transport() {
        flush();
        transport_->close();
    }
    /// Whether the connection carries another request after the current one.
    bool keep_alive(const Exchange& ex) const noexcept {
        return ex.head_.framing.keep_alive && !state_->shutting_down && !at_eof_;
    }
    void body_paused(bool paused) {
        body_paused_ = paused;
        if (!transport_ || transport_->is_closing()) return;
        if (paused) {
            body_deadline_.pause(state_->loop->time());
        } else {
            body_deadline_.resume(state_->loop->time());
        }
        arm_timer();
        if (paused) {
            transport_->pause_reading();
        } else {
            transport_->resume_reading();
            schedule_process();
        }
    }
    /// The response of the current exchange is complete.
    void response_finished(Exchange& ex, bool keep) {
        if (!keep) {
            close_transport();
            return;
        }
        if (ex.request_done_) {
            schedule_process();  // the next pipelined request, outside the handler's call
        } else {
            // Answered before the body came: the rest is read and dropped. This may run inside
            // on_body, whose callable deliver_body() holds outside the exchange meanwhile.
            ex.on_body_ = nullptr;
        }
    }
    /// Shutdown: a connection between requests closes now; one in a request after its response.
    void close_if_idle() {
        if (transport_ && !exchange_ && !parser_.in_message() && buffer_.empty()) transport_->close();
    }
    void upgrade(std::unique_ptr<Protocol> protocol) {
        pending_upgrade_ = std::move(protocol);
        if (parser_.upgrade_pending()) hand_over();
    }

private:
    void unregister() {
        if (registered_) state_->connections.erase(this);
        registered_ = false;
    }

    void schedule_process() {
        if (resume_ || !transport_) return;
        resume_ = state_->loop->call_soon([this] {
            resume_ = Handle();
            if (transport_ && !transport_->is_closing() && !upgraded_) {
                if (!buffer_.empty()) buffer_.keep();
                process();
            }
        });
    }

    bool can_process() const noexcept {
        if (!transport_ || transport_->is_closing() || upgraded_ || body_paused_) return false;
        return !exchange_ || !exchange_->request_done_;  // one request at a time
    }

    void process() {
        Cork cork(*this);  // the answers of this batch leave in one write, at its end
        for (;;) {
            if (exchange_ && exchange_->finished_ && exchange_->request_done_) exchange_done();
            if (!can_process()) break;
            std::optional<RequestEvent> event;
            try {
                event = parser_.decode(buffer_);
            } catch (const ParseError& e) {
                parse_failed(e);
                return;
            }
            if (!event) break;
            if (auto* head = std::get_if<RequestHead>(&*event)) {
                start_exchange(std::move(*head));
            } else if (auto* part = std::get_if<BodyPart>(&*event)) {
                if (exchange_ && exchange_->on_body_ && !exchange_->finished_) deliver_body(part->data);
            } else if (auto* end = std::get_if<MessageEnd>(&*event)) {
                end_request(end->trailers);
            }
        }
        arm_timer();
    }

    // The callable is moved out while it runs: finishing the response or setting another
    // on_body from inside it would otherwise destroy the running lambda and its captures.
    void deliver_body(std::string_view piece) {
        std::shared_ptr<Exchange> ex = exchange_;
        UniqueFunction<void(std::string_view)> fn = std::move(ex->on_body_);
        call_user([&] { fn(piece); });
        // Kept unless replaced meanwhile, or the exchange finished (the rest is dropped) or ended.
        if (!ex->on_body_ && !ex->finished_ && exchange_ == ex) ex->on_body_ = std::move(fn);
    }

    void start_exchange(RequestHead head) {
        timer_.cancel();
        timer_kind_ = TimerKind::none;
        bool expect = head.framing.expect_continue && head.framing.body != BodyFraming::none;
        if (head.framing.body != BodyFraming::none) body_deadline_.start(state_->loop->time(), state_->settings.body_timeout);
        exchange_ = std::shared_ptr<Exchange>(new Exchange(*this, std::move(head)));
        std::shared_ptr<Exchange> ex = exchange_;
        call_user([&] { state_->handler(*ex); });
        if (expect && exchange_ == ex && !ex->head_written_ && transport_ && !transport_->is_closing())
            write("HTTP/1.1 100 Continue\r\n\r\n");
    }

    void end_request(const Fields& trailers) {
        if (!exchange_) return;
        std::shared_ptr<Exchange> ex = exchange_;
        ex->request_done_ = true;
        body_deadline_.clear();
        if (ex->on_end_) call_user([&] { ex->on_end_(trailers); });
        if (parser_.upgrade_pending() && pending_upgrade_) {
            hand_over();
            return;
        }
        if (ex->finished_ && exchange_ == ex) exchange_done();
    }

    void exchange_done() {
        if (exchange_) {
            exchange_->connection_ = nullptr;
            release_callbacks(*exchange_);
        }
        exchange_.reset();
        if (parser_.upgrade_pending()) parser_.refuse_upgrade();
        if (state_->shutting_down && transport_) close_transport();
    }

    // Runs user code; an exception gets a 500 (or an abort once a head went out).
    template <class F>
    void call_user(F&& fn) {
        try {
            fn();
        } catch (...) {
            state_->loop->call_exception_handler({"Exception in an HTTP handler", std::current_exception(), transport_});
            if (!transport_ || transport_->is_closing()) return;
            if (exchange_ && !exchange_->head_written_) {
                write_error(500, "internal server error\n");
            } else {
                out_.clear();
                transport_->abort();
            }
        }
    }

    void hand_over() {
        flush();  // the 101 head goes before anything of the next protocol
        parser_.accept_upgrade();
        std::string rest(buffer_.view());
        buffer_.clear();
        upgraded_ = true;
        timer_.cancel();
        resume_.cancel();
        if (exchange_) {
            exchange_->finished_ = true;
            exchange_->connection_ = nullptr;
        }
        exchange_.reset();
        unregister();
        Transport* t = transport_;
        std::unique_ptr<Protocol> self = t->set_protocol(std::move(pending_upgrade_));
        // This object is destroyed from the loop, after the call it is running in returns.
        state_->loop->call_soon([self = std::move(self)]() mutable { self.reset(); });
        Protocol* next = t->get_protocol();
        next->connection_made(*t);
        if (!rest.empty()) next->data_received(as_bytes(rest));
    }

    void parse_failed(const ParseError& e) {
        buffer_.clear();
        if (e.kind() == protocols::FrameError::Kind::truncated || (exchange_ && exchange_->head_written_)) {
            close_transport();
            return;
        }
        write_error(e.status(), std::string(e.what()) + "\n");
    }

    void write_error(int status, const std::string& body) {
        std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                          "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body;
        if (exchange_) {
            exchange_->finished_ = true;
            exchange_->connection_ = nullptr;
        }
        write(out);
        close_transport();
    }

    // Corks the output for a batch of requests and sends it when the batch is over.
    struct Cork {
        ServerConnection& c;
        bool was;
        explicit Cork(ServerConnection& connection) : c(connection), was(connection.corked_) { c.corked_ = true; }
        ~Cork() {
            c.corked_ = was;
            if (was) return;
            try {
                c.flush();
            } catch (...) {  // a write refused (sendfile in progress): the handler's misuse
                c.state_->loop->call_exception_handler(
                    {"HTTP response bytes written during a sendfile", std::current_exception(), c.transport_});
                c.out_.clear();
            }
        }
    };

    enum class TimerKind { none, idle, header, body };

    // Idle while nothing of a request came; the header timer runs from a head's first byte,
    // the body timer from the head's end until the body's (see BodyDeadline).
    void arm_timer() {
        if (!transport_ || transport_->is_closing() || upgraded_) return;
        if (exchange_) return arm_body_timer();
        bool started = !buffer_.empty() || parser_.in_message();
        TimerKind want = started ? TimerKind::header : TimerKind::idle;
        if (want == timer_kind_) return;
        timer_.cancel();
        timer_kind_ = want;
        Duration delay = started ? state_->settings.header_timeout : state_->settings.idle_timeout;
        timer_ = state_->loop->call_later(delay, [this, started] {
            timer_kind_ = TimerKind::none;
            if (!transport_ || transport_->is_closing()) return;
            if (started) {
                write_error(408, "request head not received in time\n");
            } else {
                transport_->close();
            }
        });
    }

    void arm_body_timer() {
        std::optional<TimePoint> due;
        if (!exchange_->request_done_) due = body_deadline_.due();
        if (!due) {
            if (timer_kind_ == TimerKind::body) {
                timer_.cancel();
                timer_kind_ = TimerKind::none;
            }
            return;
        }
        if (timer_kind_ == TimerKind::body && body_timer_due_ == *due) return;
        timer_.cancel();
        timer_kind_ = TimerKind::body;
        body_timer_due_ = *due;
        timer_ = state_->loop->call_at(*due, [this] {
            timer_kind_ = TimerKind::none;
            if (!transport_ || transport_->is_closing()) return;
            if (exchange_ && !exchange_->head_written_) {
                write_error(408, "request body not received in time (body_timeout)\n");
            } else {
                close_transport();  // answered already: the rest of the body is not waited for
            }
        });
    }

    std::shared_ptr<Server::State> state_;
    RequestParser parser_;
    protocols::FrameBuffer buffer_;
    Transport* transport_ = nullptr;
    std::shared_ptr<Exchange> exchange_;
    std::unique_ptr<Protocol> pending_upgrade_;
    TimerHandle timer_;
    TimerKind timer_kind_ = TimerKind::none;
    BodyDeadline body_deadline_;
    TimePoint body_timer_due_{};
    Handle resume_;
    bool registered_ = false;
    bool at_eof_ = false;
    bool body_paused_ = false;
    bool writing_paused_ = false;
    bool upgraded_ = false;
    bool corked_ = false;
    std::string out_;  ///< response bytes gathered for one write (capacity kept between batches)
};

// ---- Exchange -------------------------------------------------------------------------------

void Exchange::pause_body() {
    if (connection_) connection_->body_paused(true);
}

void Exchange::resume_body() {
    if (connection_) connection_->body_paused(false);
}

Transport& Exchange::transport() const noexcept {
    connection_->flush();  // what was written through the exchange goes first (a sendfile follows)
    return connection_->transport();
}

bool Exchange::write_paused() const noexcept { return connection_ && connection_->writing_paused(); }

void ServerConnection::put_head(Exchange& ex, int status, const std::vector<Header>& headers,
                                std::string_view content_type, std::optional<std::uint64_t> content_length) {
    bool bodiless = status < 200 || status == 204 || status == 304;
    ex.keep_ = keep_alive(ex) && status != 101;
    bool says_close = false;
    bool has_date = false;
    for (const auto& [name, value] : headers) {
        if (iequals(name, "connection") && list_has_token(value, "close")) says_close = true;
        if (iequals(name, "date")) has_date = true;
    }
    if (says_close) ex.keep_ = false;
    std::string& out = out_;
    out += "HTTP/1.1 ";
    append_number(out, status);
    out += ' ';
    out += reason_phrase(status);
    out += "\r\n";
    if (!has_date) out += date_field();
    for (const auto& [name, value] : headers) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    if (!content_type.empty()) {
        out += "Content-Type: ";
        out += content_type;
        out += "\r\n";
    }
    if (!bodiless) {
        if (content_length) {
            out += "Content-Length: ";
            append_number(out, *content_length);
            out += "\r\n";
        } else if (ex.head_.version_minor >= 1) {
            out += "Transfer-Encoding: chunked\r\n";
            ex.chunked_ = ex.head_.method != "HEAD";
        } else {
            ex.keep_ = false;  // an HTTP/1.0 body of unknown length ends with the connection
        }
    }
    if (status != 101 && !says_close) {
        if (!ex.keep_) {
            out += "Connection: close\r\n";
        } else if (ex.head_.version_minor == 0) {
            out += "Connection: keep-alive\r\n";
        }
    }
    out += "\r\n";
}

void Exchange::write_head(int status, const std::vector<Header>& headers, std::optional<std::uint64_t> content_length) {
    if (head_written_) throw InvalidStateError("write_head: the response head was already written");
    head_written_ = true;
    if (!connection_) return;
    connection_->put_head(*this, status, headers, {}, content_length);
    connection_->flush_unless_corked();
}

void Exchange::write(std::string_view data) {
    if (!head_written_) throw InvalidStateError("write: write_head() first");
    if (finished_) throw InvalidStateError("write: the response is finished");
    if (!connection_ || data.empty() || head_.method == "HEAD") return;
    if (!chunked_) {
        connection_->write_body({}, data, {});
        return;
    }
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    connection_->write_body(std::string_view(size, static_cast<std::size_t>(n)), data, "\r\n");
}

void Exchange::finish() {
    if (!head_written_) throw InvalidStateError("finish: write_head() first");
    if (finished_) return;
    finished_ = true;
    if (!connection_) return;
    if (chunked_) connection_->write("0\r\n\r\n");
    connection_->flush_unless_corked();  // a head written by respond() without a body, say
    connection_->response_finished(*this, keep_);
}

void Exchange::respond(int status, std::string_view body, std::string_view content_type, std::vector<Header> headers) {
    // write_head + write + finish, with the head and the body in one write.
    if (head_written_) throw InvalidStateError("write_head: the response head was already written");
    head_written_ = true;
    if (connection_) connection_->put_head(*this, status, headers, content_type, body.size());
    write(body);
    finish();
}

void Exchange::accept_upgrade(std::unique_ptr<Protocol> protocol) {
    if (!protocol) throw std::invalid_argument("accept_upgrade: null protocol");
    if (!head_.framing.upgrade) throw InvalidStateError("accept_upgrade: the request asked for no upgrade");
    if (connection_) connection_->upgrade(std::move(protocol));
}

// ---- Server ---------------------------------------------------------------------------------

Future<Server> Server::create(EventLoop& loop, Handler handler, std::optional<std::string> host, std::uint16_t port,
                              ServerSettings settings, const ServerOptions& options) {
    auto state = std::make_shared<State>();
    state->loop = &loop;
    state->handler = std::move(handler);
    state->settings = settings;
    Future<Server> result(loop);
    Future<bulb::Server> listening = loop.create_server(
        [state]() -> std::unique_ptr<Protocol> { return std::make_unique<ServerConnection>(state); }, std::move(host),
        port, options);
    listening.add_done_callback([state, result](Future<bulb::Server>& f) mutable {
        try {
            state->server.emplace(f.result());
        } catch (...) {
            result.set_exception(std::current_exception());
            return;
        }
        Server s;
        s.state_ = state;
        result.set_result(std::move(s));
    });
    return result;
}

std::vector<SocketAddress> Server::sockets() const { return state_->server->sockets(); }

std::size_t Server::connection_count() const noexcept { return state_->connections.size(); }

Future<void> Server::shutdown(Duration deadline) {
    state_->shutting_down = true;
    state_->server->close();
    std::vector<ServerConnection*> idle;
    for (ServerConnection* c : state_->connections) idle.push_back(c);
    for (ServerConnection* c : idle) c->close_if_idle();
    Future<void> closed = state_->server->wait_closed();
    std::shared_ptr<State> state = state_;
    TimerHandle timer = state_->loop->call_later(deadline, [state] { state->server->abort_clients(); });
    closed.add_done_callback([timer]() mutable { timer.cancel(); });
    return closed;
}

}  // namespace bulb::http
