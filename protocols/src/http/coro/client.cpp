// SPDX-License-Identifier: MIT
// http::Client: one request at a time per connection over the streams layer, responses framed
// by ResponseParser, connections pooled per scheme://host:port while both sides keep them.
#include <bulb/http/coro/client.hpp>

#include <bulb/coro/timeout.hpp>
#include <bulb/error.hpp>

#include <stdexcept>

namespace bulb::http {

struct Client::Connection {
    StreamReader reader;
    StreamWriter writer;
    ResponseParser parser;
    protocols::FrameBuffer buffer;
    Connection(StreamReader r, StreamWriter w, const ParserOptions& options)
        : reader(std::move(r)), writer(std::move(w)), parser(options) {}
    ~Connection() { writer.close(); }
};

namespace {

struct Url {
    bool tls = false;
    std::string host;
    std::uint16_t port = 80;
    std::string target = "/";
    std::string authority;  // for Host
};

Url parse_url(const std::string& url) {
    Url u;
    std::string_view rest = url;
    if (rest.substr(0, 7) == "http://") {
        rest.remove_prefix(7);
    } else if (rest.substr(0, 8) == "https://") {
        rest.remove_prefix(8);
        u.tls = true;
        u.port = 443;
    } else {
        throw std::invalid_argument("http::Client: not an http or https URL: " + url);
    }
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) u.target = std::string(rest.substr(slash));
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        throw std::invalid_argument("http::Client: no host (or user info) in URL: " + url);
    u.authority = std::string(authority);
    std::string_view port;
    if (authority[0] == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("http::Client: bad IPv6 host in URL: " + url);
        u.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') throw std::invalid_argument("http::Client: bad port in URL: " + url);
            port = authority.substr(close + 2);
        }
    } else {
        std::size_t colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (!port.empty()) {
        unsigned long p = 0;
        for (char c : port) {
            if (c < '0' || c > '9' || (p = p * 10 + static_cast<unsigned long>(c - '0')) > 65535)
                throw std::invalid_argument("http::Client: bad port in URL: " + url);
        }
        u.port = static_cast<std::uint16_t>(p);
    }
    for (char c : u.target) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            throw std::invalid_argument("http::Client: bytes that need %-encoding in URL: " + url);
    }
    return u;
}

bool idempotent(const std::string& method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

// Reads one final response from `c`; `got_bytes` tells whether any byte came.
Task<ClientResponse> read_response(Client::Connection& c, bool& got_bytes) {
    ClientResponse response;
    bool have_head = false;
    for (;;) {
        std::optional<ResponseEvent> event = c.parser.decode(c.buffer);
        if (!event) {
            std::string chunk = co_await c.reader.read(64 * 1024);
            if (!chunk.empty()) {
                got_bytes = true;
                c.buffer.append(std::string_view(chunk));
                continue;
            }
            event = c.parser.decode_eof(c.buffer);  // throws inside a message
            if (!event) throw Error(errc::incomplete_read, "http::Client: the connection closed before a response");
        }
        if (auto* head = std::get_if<ResponseHead>(&*event)) {
            response.head = std::move(*head);
            have_head = true;
        } else if (auto* part = std::get_if<BodyPart>(&*event)) {
            response.body += part->data;
        } else if (auto* end = std::get_if<MessageEnd>(&*event)) {
            if (have_head && (response.head.status >= 200 || response.head.status == 101)) {
                response.trailers = std::move(end->trailers);
                co_return response;
            }
            have_head = false;  // an interim 1xx: the final response follows
        }
    }
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {}
Client::~Client() = default;

std::size_t Client::idle_connections() const noexcept {
    std::size_t n = 0;
    for (const auto& [key, list] : idle_) n += list.size();
    return n;
}

void Client::close() { idle_.clear(); }

Task<ClientResponse> Client::get(std::string url) {
    std::string method = "GET";
    co_return co_await request(std::move(method), std::move(url));
}

Task<ClientResponse> Client::request(std::string method, std::string url, std::vector<Header> headers,
                                     std::string body) {
    Timeout scope = timeout(options_.timeout);
    Task<ClientResponse> work = send(std::move(method), std::move(url), std::move(headers), std::move(body));
    co_return co_await scope.run(std::move(work));
}

Task<ClientResponse> Client::send(std::string method, std::string url, std::vector<Header> headers, std::string body) {
    Url u = parse_url(url);
    std::string key = (u.tls ? "https://" : "http://") + u.host + ":" + std::to_string(u.port);
    std::string wire = method + " " + u.target + " HTTP/1.1\r\nHost: " + u.authority + "\r\n";
    for (const auto& [name, value] : headers) wire += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    wire += "\r\n";
    wire += body;

    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> c;
        bool reused = false;
        auto& pool = idle_[key];
        while (!pool.empty() && !c) {
            c = std::move(pool.back());
            pool.pop_back();
            if (c->writer.is_closing() || c->reader.at_eof()) c.reset();
        }
        if (c) {
            reused = true;
        } else {
            StreamOptions options;
            if (u.tls) {
                options.connect.tls = options_.tls ? *options_.tls : TlsContext::client();
                options.connect.server_hostname = u.host;
            }
            StreamPair pair = co_await open_connection(u.host, u.port, options);
            c = std::make_unique<Connection>(std::move(pair.first), std::move(pair.second), options_.parser);
        }
        c->parser.push_request_method(method);
        bool got_bytes = false;
        try {
            c->writer.write(std::string_view(wire));
            co_await c->writer.drain();
            ClientResponse response = co_await read_response(*c, got_bytes);
            if (c->parser.keep_alive() && c->buffer.empty() && !c->parser.tunnelling() &&
                response.head.framing.keep_alive && idle_[key].size() < options_.max_idle_per_host) {
                idle_[key].push_back(std::move(c));
            }
            co_return response;
        } catch (const Error&) {
            // A pooled connection the server closed meanwhile: once more on a new one.
            if (!reused || got_bytes || attempt > 0 || !idempotent(method)) throw;
        } catch (const std::system_error&) {
            if (!reused || got_bytes || attempt > 0 || !idempotent(method)) throw;
        }
    }
}

}  // namespace bulb::http
