// SPDX-License-Identifier: MIT
/// @file
/// StreamReader / StreamWriter methods, open_connection and start_server (asyncio/streams.py).
#include <bulb/coro/streams.hpp>

#include "stream_core.hpp"

#include <bulb/coro/sleep.hpp>
#include <bulb/loop.hpp>

#include <algorithm>
#include <stdexcept>

namespace bulb {

using detail::StreamCore;

// --- StreamReader ---------------------------------------------------------------------------

// Copies are counted in the core: a read-only stream (connect_stdin) closes its transport when
// the last copy goes, as a StreamWriter does.
StreamReader::StreamReader(RefPtr<StreamCore> core) noexcept : core_(std::move(core)) {
    if (core_) core_->add_reader();
}
StreamReader::StreamReader(const StreamReader& other) noexcept : core_(other.core_) {
    if (core_) core_->add_reader();
}
StreamReader& StreamReader::operator=(const StreamReader& other) noexcept {
    if (core_ != other.core_) {
        RefPtr<StreamCore> old = core_;
        core_ = other.core_;
        if (core_) core_->add_reader();
        if (old) old->release_reader();
    }
    return *this;
}
StreamReader::~StreamReader() {
    if (core_) core_->release_reader();
}

bool StreamReader::at_eof() const noexcept { return core_->eof() && core_->buffer().empty(); }
std::size_t StreamReader::buffered() const noexcept { return core_->buffer().size(); }
std::size_t StreamReader::limit() const noexcept { return core_->limit(); }
void StreamReader::feed_data(std::string_view data) { core_->feed_data(data); }
void StreamReader::feed_eof() { core_->feed_eof(); }

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
    RefPtr<StreamCore> core = core_;
    if (n == 0) co_return std::string();
    if (n < 0) {  // everything until EOF
        std::string all;
        for (;;) {
            if (!core->buffer().empty()) all += core->take(core->buffer().size());
            if (core->eof()) break;
            co_await core->wait_for_data("read");
        }
        core->throw_if_failed();
        co_return all;
    }
    while (core->buffer().empty() && !core->eof()) co_await core->wait_for_data("read");
    if (core->buffer().empty()) core->throw_if_failed();
    co_return core->take(static_cast<std::size_t>(n));
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
    RefPtr<StreamCore> core = core_;
    while (core->buffer().size() < n) {
        if (core->eof()) {
            core->throw_if_failed();
            throw IncompleteReadError(core->take(core->buffer().size()), n);
        }
        co_await core->wait_for_data("readexactly");
    }
    co_return core->take(n);
}

Task<std::string> StreamReader::readuntil(std::string separator) {
    if (separator.empty()) throw std::invalid_argument("readuntil: empty separator");
    RefPtr<StreamCore> core = core_;
    const std::size_t seplen = separator.size();
    std::size_t offset = 0;  // where the search resumes: earlier bytes cannot start a match
    std::size_t found;
    for (;;) {
        std::string_view buf = core->buffer();
        if (buf.size() - std::min(buf.size(), offset) >= seplen) {
            found = buf.find(separator, offset);
            if (found != std::string_view::npos) break;
            offset = buf.size() + 1 - seplen;
            if (offset > core->limit())
                throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
        }
        if (core->eof()) {
            core->throw_if_failed();
            throw IncompleteReadError(core->take(buf.size()), std::nullopt);
        }
        co_await core->wait_for_data("readuntil");
    }
    if (found > core->limit()) throw LimitOverrunError("Separator is found, but chunk is longer than limit", found);
    co_return core->take(found + seplen);
}

Task<std::string> StreamReader::readuntil(std::initializer_list<std::string_view> separators) {
    return readuntil(std::vector<std::string>(separators.begin(), separators.end()));
}

Task<std::string> StreamReader::readuntil(std::vector<std::string> separators) {
    if (separators.empty()) throw std::invalid_argument("readuntil: no separator given");
    std::size_t min_len = separators.front().size(), max_len = 0;
    for (const auto& sep : separators) {
        if (sep.empty()) throw std::invalid_argument("readuntil: empty separator");
        min_len = std::min(min_len, sep.size());
        max_len = std::max(max_len, sep.size());
    }
    RefPtr<StreamCore> core = core_;
    std::size_t offset = 0;  // no match can start before it (it would have ended in older data)
    std::size_t start = 0, end = 0;
    for (;;) {
        std::string_view buf = core->buffer();
        if (buf.size() - std::min(buf.size(), offset) >= min_len) {
            bool found = false;
            for (const auto& sep : separators) {
                const std::size_t at = buf.find(sep, offset);
                if (at == std::string_view::npos) continue;
                const std::size_t e = at + sep.size();
                // The earliest end wins; on a tie the shorter separator (the later start).
                if (!found || e < end || (e == end && at > start)) {
                    found = true;
                    start = at;
                    end = e;
                }
            }
            if (found) break;
            offset = buf.size() + 1 > max_len ? buf.size() + 1 - max_len : 0;
            if (offset > core->limit())
                throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
        }
        if (core->eof()) {
            core->throw_if_failed();
            throw IncompleteReadError(core->take(buf.size()), std::nullopt);
        }
        co_await core->wait_for_data("readuntil");
    }
    if (start > core->limit()) throw LimitOverrunError("Separator is found, but chunk is longer than limit", start);
    co_return core->take(end);
}

Task<std::string> StreamReader::readline() {
    RefPtr<StreamCore> core = core_;
    try {
        co_return co_await readuntil("\n");
    } catch (IncompleteReadError& e) {
        co_return std::move(e.partial);
    } catch (LimitOverrunError& e) {
        // asyncio: drop the over-long line (or what was scanned of it), then report.
        std::string_view buf = core->buffer();
        if (buf.substr(e.consumed, 1) == "\n")
            core->take(e.consumed + 1);
        else
            core->take(buf.size());
        throw;
    }
}

AsyncGenerator<std::string> StreamReader::lines() {
    StreamReader self = *this;  // the generator outlives this call
    for (;;) {
        std::string line = co_await self.readline();
        if (line.empty()) co_return;
        co_yield std::move(line);
    }
}

// --- StreamWriter ---------------------------------------------------------------------------

StreamWriter::StreamWriter(RefPtr<StreamCore> core)
    : core_(core), handle_(new detail::WriterHandle(std::move(core))) {}
StreamWriter::StreamWriter(const StreamWriter&) noexcept = default;
StreamWriter& StreamWriter::operator=(const StreamWriter&) noexcept = default;
StreamWriter::~StreamWriter() = default;

void StreamWriter::write(std::string_view data) { core_->transport().write(data); }
void StreamWriter::write(ByteView data) { core_->transport().write(data); }

void StreamWriter::writelines(std::initializer_list<std::string_view> lines) {
    std::vector<ByteView> views;
    views.reserve(lines.size());
    for (auto l : lines) views.push_back(as_bytes(l));
    core_->transport().writelines(views);
}

Task<void> StreamWriter::drain() {
    RefPtr<StreamCore> core = core_;
    core->throw_if_failed();
    if (core->lost() || core->transport().is_closing()) {
        co_await bulb::sleep(Duration::zero());  // let connection_lost run, as asyncio does
        core->throw_if_failed();
        if (core->lost()) throw Error(errc::transport_closed, "drain(): connection lost");
    }
    while (core->writing_paused() && !core->lost()) co_await core->add_drain_waiter();
    core->throw_if_failed();
}

void StreamWriter::write_eof() { core_->transport().write_eof(); }
bool StreamWriter::can_write_eof() const noexcept { return core_->transport().can_write_eof(); }
void StreamWriter::close() { core_->transport().close(); }
bool StreamWriter::is_closing() const noexcept { return core_->transport().is_closing(); }

Task<void> StreamWriter::wait_closed() {
    RefPtr<StreamCore> core = core_;
    co_await core->closed();
}

Task<void> StreamWriter::start_tls(TlsContext tls, std::string server_hostname) {
    RefPtr<StreamCore> core = core_;
    std::string read_ahead = core->take(core->buffer().size());
    TransportPtr upgraded = co_await core->loop().start_tls(TransportPtr(&core->transport()), tls, tls.is_server(),
                                                            std::move(server_hostname), std::move(read_ahead));
    core->attach(*upgraded);
}

Task<void> StreamWriter::start_tls(TlsContext tls) { return start_tls(std::move(tls), std::string()); }

std::optional<std::string> StreamWriter::get_extra_info(std::string_view name) const {
    return core_->transport().get_extra_info(name);
}
Transport& StreamWriter::transport() const noexcept { return core_->transport(); }

// --- connections and servers ----------------------------------------------------------------

namespace {

ProtocolFactory client_factory(EventLoop& loop, std::size_t limit) {
    return [&loop, limit] { return std::make_unique<detail::StreamProtocol>(RefPtr<StreamCore>(new StreamCore(loop, limit))); };
}

StreamPair pair_of(const Connection& c) {
    auto* p = c.protocol<detail::StreamProtocol>();
    if (!p) throw Error(errc::transport_closed, "connection lost before it was handed over");
    return {StreamReader(p->core()), StreamWriter(p->core())};
}

/// Makes the per-connection protocols of a stream server: each starts `cb` as its own task.
struct ServerFactory {
    EventLoop* loop;
    std::size_t limit;
    std::shared_ptr<ClientConnected> cb;

    std::unique_ptr<Protocol> operator()() const {
        auto p = std::make_unique<detail::StreamProtocol>(RefPtr<StreamCore>(new StreamCore(*loop, limit)));
        p->on_connected = [loop = loop, cb = cb](RefPtr<StreamCore> core) {
            StreamWriter writer(core);
            auto done = create_task(*loop, (*cb)(StreamReader(core), writer));
            done.add_done_callback([loop, core](Future<void>& f) {
                if (f.cancelled()) return;
                if (auto e = f.exception()) {
                    loop->call_exception_handler({"Unhandled exception in client_connected callback", e,
                                                  core->lost() ? nullptr : &core->transport()});
                    if (!core->lost()) core->transport().close();
                }
            });
        };
        return p;
    }
};

}  // namespace

// The public functions are plain functions that move their arguments to the heap before a
// coroutine starts: GCC 12 miscopies aggregate temporaries (such as StreamOptions{...}) into
// coroutine frames, so option structs never become coroutine parameters.
namespace {

struct Endpoint {
    std::optional<std::string> host;  // or the Unix path
    std::vector<std::string> hosts;   // several hosts (servers), used when not empty
    std::uint16_t port;
    StreamOptions options;
    bool unix_socket;
};

Task<StreamPair> connect_task(std::unique_ptr<Endpoint> e) {
    EventLoop& loop = get_running_loop();
    auto factory = client_factory(loop, e->options.limit);
    // One co_await on a named future: GCC 12 mishandles temporaries around co_await in ?: operands.
    Future<Connection> connecting =
        e->unix_socket ? loop.create_unix_connection(std::move(factory), *e->host, e->options.connect)
                       : loop.create_connection(std::move(factory), *e->host, e->port, e->options.connect);
    Connection c = co_await connecting;
    co_return pair_of(c);
}

Task<Server> serve_task(std::unique_ptr<Endpoint> e, std::shared_ptr<ClientConnected> cb) {
    EventLoop& loop = get_running_loop();
    ServerFactory factory{&loop, e->options.limit, std::move(cb)};
    Future<Server> serving = e->unix_socket      ? loop.create_unix_server(factory, *e->host, e->options.server)
                             : e->hosts.empty() ? loop.create_server(factory, e->host, e->port, e->options.server)
                                                : loop.create_server(factory, e->hosts, e->port, e->options.server);
    Server server = co_await serving;
    co_return server;
}

}  // namespace

Task<StreamPair> open_connection(std::string host, std::uint16_t port) {
    return open_connection(std::move(host), port, StreamOptions{});
}

Task<StreamPair> open_unix_connection(std::string path) { return open_unix_connection(std::move(path), StreamOptions{}); }

Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host, std::uint16_t port) {
    return start_server(std::move(client_connected), std::move(host), port, StreamOptions{});
}

Task<Server> start_unix_server(ClientConnected client_connected, std::string path) {
    return start_unix_server(std::move(client_connected), std::move(path), StreamOptions{});
}

Task<StreamPair> open_connection(std::string host, std::uint16_t port, StreamOptions options) {
    return connect_task(std::make_unique<Endpoint>(Endpoint{std::move(host), {}, port, std::move(options), false}));
}

Task<StreamPair> open_unix_connection(std::string path, StreamOptions options) {
    return connect_task(std::make_unique<Endpoint>(Endpoint{std::move(path), {}, 0, std::move(options), true}));
}

Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host, std::uint16_t port,
                          StreamOptions options) {
    return serve_task(std::make_unique<Endpoint>(Endpoint{std::move(host), {}, port, std::move(options), false}),
                      std::make_shared<ClientConnected>(std::move(client_connected)));
}

Task<Server> start_unix_server(ClientConnected client_connected, std::string path, StreamOptions options) {
    return serve_task(std::make_unique<Endpoint>(Endpoint{std::move(path), {}, 0, std::move(options), true}),
                      std::make_shared<ClientConnected>(std::move(client_connected)));
}

Task<StreamPair> open_connection(std::string host, std::uint16_t port, TlsContext tls) {
    StreamOptions options;
    options.connect.tls = std::move(tls);
    return open_connection(std::move(host), port, std::move(options));
}

Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host, std::uint16_t port,
                          TlsContext tls) {
    StreamOptions options;
    options.server.tls = std::move(tls);
    return start_server(std::move(client_connected), std::move(host), port, std::move(options));
}

Task<Server> start_server(ClientConnected client_connected, std::vector<std::string> hosts, std::uint16_t port) {
    return start_server(std::move(client_connected), std::move(hosts), port, StreamOptions{});
}

Task<Server> start_server(ClientConnected client_connected, std::vector<std::string> hosts, std::uint16_t port,
                          StreamOptions options) {
    if (hosts.empty()) throw std::invalid_argument("start_server: the list of hosts is empty");
    return serve_task(std::make_unique<Endpoint>(Endpoint{std::nullopt, std::move(hosts), port, std::move(options), false}),
                      std::make_shared<ClientConnected>(std::move(client_connected)));
}

}  // namespace bulb
