// SPDX-License-Identifier: MIT
/// @file
/// Servers: binding and listening, the accept loop, Server's handle, EventLoop::create_server.
#include "server_impl.hpp"

#include "loop/loop_impl.hpp"
#include "resolver.hpp"
#include "socket_util.hpp"
#include "stream_transport.hpp"
#include "tls/tls_protocol.hpp"

#include <event2/event.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulb {
namespace detail {
namespace {

constexpr auto accept_retry_delay = std::chrono::seconds(1);  // asyncio's ACCEPT_RETRY_DELAY

/// A bound, listening socket for `addr`; throws bulb::Error naming the address.
int listen_on(const SocketAddress& addr, const ServerOptions& options) {
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(last_error(), "socket() for " + addr.to_string());
    int one = 1;
    if (options.reuse_address && addr.family() != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        auto ec = last_error();
        ::close(fd);
        throw Error(ec, "SO_REUSEPORT");
    }
    if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, addr.data(), addr.size()) != 0 || ::listen(fd, options.backlog) != 0) {
        auto ec = last_error();
        ::close(fd);
        throw Error(ec, "could not bind on address " + addr.to_string());
    }
    return fd;
}

bool is_resource_shortage(int err) noexcept { return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM; }

}  // namespace

ServerImpl::ServerImpl(LoopImpl& loop, ProtocolFactory factory, std::vector<int> fds, const ServerOptions& options,
                       std::string unix_path)
    : loop_(loop), factory_(std::move(factory)), options_(options), unix_path_(std::move(unix_path)) {
    struct stat st;
    if (!unix_path_.empty() && unix_path_[0] != '\0' && ::stat(unix_path_.c_str(), &st) == 0) {
        unix_dev_ = st.st_dev;
        unix_ino_ = st.st_ino;
    }
    for (int fd : fds) {
        listeners_.push_back({fd, IoWatcher(loop_, fd, EV_READ, [this, fd] { on_acceptable(fd); })});
    }
    loop_.servers_.push(this);
    add_ref();  // held while listening: a server nobody keeps still serves, as in asyncio
}

ServerImpl::~ServerImpl() {
    for (auto& l : listeners_) ::close(l.fd);
}

EventLoop& ServerImpl::loop() const noexcept { return loop_.owner(); }

void ServerImpl::start_serving() {
    if (closed_ || serving_) return;
    serving_ = true;
    for (auto& l : listeners_) l.watch.start();
}

void ServerImpl::on_acceptable(int listen_fd) noexcept {
    for (int i = 0; i < std::max(1, options_.backlog) && serving_; ++i) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
            if (is_resource_shortage(err)) {
                pause_accepting_after(err);
                return;
            }
            loop_.call_exception_handler(
                {"accept() failed: " + std::error_code(err, std::system_category()).message(), nullptr});
            return;
        }
        resource_error_reported_ = false;
        if (handoff_) {
            handoff_(fd);
            continue;
        }
        accept_connection(fd);
    }
}

void ServerImpl::adopt(int fd) noexcept {
    if (closed_) {
        ::close(fd);
        return;
    }
    accept_connection(fd);
}

void ServerImpl::accept_connection(int fd) noexcept {
    std::unique_ptr<Protocol> protocol;
    try {
        if (options_.keep_alive) set_keep_alive(fd, *options_.keep_alive);
        protocol = factory_();
        if (!protocol) throw std::invalid_argument("protocol factory returned null");
        RefPtr<TlsTransport> tls;
        if (options_.tls) {
            auto wrapping = wrap_tls(loop_.owner(),
                                     TlsSettings{*options_.tls, true, {}, options_.tls_handshake_timeout,
                                                 options_.tls_shutdown_timeout},
                                     std::move(protocol), std::nullopt);
            tls = std::move(wrapping.transport);
            protocol = std::move(wrapping.raw_protocol);
        }
        StreamTransport* t = StreamTransport::create(loop_, fd, std::move(protocol), this, std::nullopt);
        if (tls) clients_[t] = std::move(tls);
    } catch (...) {
        loop_.call_exception_handler({"Error creating a protocol for an accepted connection", std::current_exception()});
        ::close(fd);
    }
}

void ServerImpl::pause_accepting_after(int err) noexcept {
    // Out of descriptors: the listening socket stays readable, so stop watching it (no spinning)
    // and try again later; report once per episode.
    if (!resource_error_reported_) {
        resource_error_reported_ = true;
        loop_.call_exception_handler({"accept() out of system resource (" +
                                          std::error_code(err, std::system_category()).message() +
                                          "): accepting paused, retrying every second",
                                      nullptr});
    }
    for (auto& l : listeners_) l.watch.stop();
    try {
        accept_retry_ = loop_.owner().call_later(accept_retry_delay, [self = RefPtr<ServerImpl>(this)] {
            if (self->serving_)
                for (auto& l : self->listeners_) l.watch.start();
        });
    } catch (...) {
    }
}

void ServerImpl::close() {
    if (closed_) return;
    closed_ = true;
    serving_ = false;
    accept_retry_.cancel();
    handoff_.reset();
    for (auto& l : listeners_) {
        l.watch.reset();
        ::close(l.fd);
    }
    listeners_.clear();
    if (!unix_path_.empty() && unix_path_[0] != '\0') {
        struct stat st;  // only our own file: another server may have replaced it since
        if (::stat(unix_path_.c_str(), &st) == 0 && st.st_dev == unix_dev_ && st.st_ino == unix_ino_)
            ::unlink(unix_path_.c_str());
    }
    loop_.servers_.remove(this);
    // Drop our handle before cancelling: its done callback holds this server, and if the loop
    // closes before that callback runs, a server holding the future would be a leaked cycle.
    if (auto forever = std::exchange(serving_forever_, std::nullopt); forever && !forever->done()) forever->cancel();
    maybe_wake_closed();
    // No connection is accepted after this, so the factory goes now: a factory that holds the
    // Server handle (an http::Server's state does) would otherwise be a cycle that outlives the
    // loop. Destroying it may drop other references to this server; the listening one is still ours.
    { ProtocolFactory dropped = std::move(factory_); }
    release_ref();  // the listening reference
}

void ServerImpl::close_clients() {
    std::vector<std::pair<TransportPtr, RefPtr<TlsTransport>>> clients(clients_.begin(), clients_.end());
    for (auto& [raw, tls] : clients) {
        // A TLS client is closed as its app would close it: close_notify after the buffered
        // data, bounded by the shutdown timeout (closing the socket under it is an unclean EOF).
        // One still in its handshake has no app yet: its socket is closed.
        if (tls && tls->wrapped())
            tls->close();
        else
            raw->close();
    }
}

void ServerImpl::abort_clients() {
    std::vector<TransportPtr> clients;
    clients.reserve(clients_.size());
    for (auto& [raw, tls] : clients_) clients.emplace_back(raw);
    for (auto& t : clients) t->abort();
}

Future<void> ServerImpl::wait_closed() {
    Future<void> f(loop_.owner());
    closed_waiters_.push_back(f);
    maybe_wake_closed();
    return f;
}

Future<void> ServerImpl::serve_forever() {
    if (serving_forever_ && !serving_forever_->done()) throw InvalidStateError("serve_forever() is already running");
    if (closed_) throw InvalidStateError("serve_forever() on a closed server");
    start_serving();
    Future<void> f(loop_.owner());
    f.add_done_callback([self = RefPtr<ServerImpl>(this)] { self->close(); });
    serving_forever_ = f;
    return f;
}

void ServerImpl::attach(StreamTransport* t) {
    clients_.emplace(t, nullptr);
    live_.store(clients_.size(), std::memory_order_relaxed);
    accepted_.store(accepted_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    add_ref();  // each connection keeps its server alive
}

void ServerImpl::detach(StreamTransport* t) noexcept {
    clients_.erase(t);
    live_.store(clients_.size(), std::memory_order_relaxed);
    maybe_wake_closed();
    release_ref();
}

void ServerImpl::maybe_wake_closed() noexcept {
    if (!closed_ || !clients_.empty() || closed_waiters_.empty()) return;
    auto waiters = std::move(closed_waiters_);
    closed_waiters_.clear();
    for (auto& w : waiters)
        if (!w.done()) w.set_result();
}

std::vector<SocketAddress> ServerImpl::sockets() const {
    std::vector<SocketAddress> out;
    for (auto& l : listeners_) out.push_back(local_address(l.fd));
    return out;
}

std::vector<int> ServerImpl::fds() const {
    std::vector<int> out;
    for (auto& l : listeners_) out.push_back(l.fd);
    return out;
}

namespace {

/// Resolves every host (numeric ones at once) and concatenates the addresses in order.
Future<std::vector<SocketAddress>> resolve_all(EventLoop& loop, std::vector<std::optional<std::string>> hosts,
                                               std::uint16_t port) {
    struct State {
        std::vector<std::vector<SocketAddress>> parts;
        std::size_t pending;
        Future<std::vector<SocketAddress>> result;
    };
    auto state = std::make_shared<State>(State{{}, hosts.size(), Future<std::vector<SocketAddress>>(loop)});
    state->parts.resize(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        resolve(loop, hosts[i], port, AF_UNSPEC, true).add_done_callback([state, i](Future<std::vector<SocketAddress>>& f) {
            if (state->result.done()) return;
            try {
                state->parts[i] = std::move(f.result());
            } catch (...) {
                state->result.set_exception(std::current_exception());
                return;
            }
            if (--state->pending > 0) return;
            std::vector<SocketAddress> all;
            for (auto& p : state->parts) all.insert(all.end(), p.begin(), p.end());
            state->result.set_result(std::move(all));
        });
    }
    return state->result;
}

/// Misuse found before anything starts: a server needs a server TlsContext.
void check_server_options(const ServerOptions& options, const char* who) {
    if (options.tls && !options.tls->is_server()) throw std::invalid_argument(std::string(who) + ": a client TlsContext");
    if (options.keep_alive) check_keep_alive(*options.keep_alive, who);
}

Future<Server> serve(LoopImpl& loop, ProtocolFactory factory, std::vector<int> fds, const ServerOptions& options,
                     std::string unix_path) {
    Future<Server> result(loop.owner());
    RefPtr<ServerImpl> impl(new ServerImpl(loop, std::move(factory), std::move(fds), options, std::move(unix_path)));
    if (options.start_serving) impl->start_serving();
    result.set_result(Server(std::move(impl)));
    return result;
}

/// Resolves `hosts`, listens on every address, then serves them all as one server.
Future<Server> serve_hosts(LoopImpl& loop, std::vector<std::optional<std::string>> hosts, std::uint16_t port,
                           ProtocolFactory factory, const ServerOptions& options) {
    Future<Server> result(loop.owner());
    resolve_all(loop.owner(), std::move(hosts), port)
        .add_done_callback([&loop, result, factory = std::move(factory),
                            options](Future<std::vector<SocketAddress>>& addrs) mutable {
            std::vector<int> fds;
            try {
                for (auto& a : addrs.result()) fds.push_back(listen_on(a, options));
            } catch (...) {
                for (int fd : fds) ::close(fd);
                if (!result.done()) result.set_exception(std::current_exception());
                return;
            }
            if (result.done()) {  // cancelled while resolving
                for (int fd : fds) ::close(fd);
                return;
            }
            try {
                result.set_result(serve(loop, std::move(factory), std::move(fds), options, {}).result());
            } catch (...) {  // never leave the future pending (the exception would go to the loop's handler)
                result.set_exception(std::current_exception());
            }
        });
    return result;
}

}  // namespace
}  // namespace detail

// --- Server handle ------------------------------------------------------------------------------

Server::Server(RefPtr<detail::ServerImpl> impl) noexcept : impl_(std::move(impl)) {}
Server::~Server() = default;
Server::Server(const Server&) noexcept = default;
Server& Server::operator=(const Server&) noexcept = default;
void Server::close() { impl_->close(); }
void Server::close_clients() { impl_->close_clients(); }
void Server::abort_clients() { impl_->abort_clients(); }
Future<void> Server::wait_closed() { return impl_->wait_closed(); }
bool Server::is_serving() const noexcept { return impl_->is_serving(); }
void Server::start_serving() { impl_->start_serving(); }
Future<void> Server::serve_forever() { return impl_->serve_forever(); }
std::vector<SocketAddress> Server::sockets() const { return impl_->sockets(); }
std::vector<int> Server::fds() const { return impl_->fds(); }
std::size_t Server::connection_count() const noexcept { return impl_->connection_count(); }
EventLoop& Server::get_loop() const noexcept { return impl_->loop(); }

// --- EventLoop::create_server -------------------------------------------------------------------

Future<Server> EventLoop::create_server(ProtocolFactory factory, std::optional<std::string> host, std::uint16_t port) {
    return create_server(std::move(factory), std::move(host), port, ServerOptions{});
}

Future<Server> EventLoop::create_server(ProtocolFactory factory, std::optional<std::string> host, std::uint16_t port,
                                        const ServerOptions& options) {
    impl_->check_thread("create_server");
    // Checked first: a server made on a closed loop would watch its socket on a freed event base.
    if (is_closed()) throw InvalidStateError("create_server: Event loop is closed");
    detail::check_server_options(options, "create_server");
    if (options.sock >= 0) {
        detail::set_nonblocking(options.sock);
        return detail::serve(*impl_, std::move(factory), {options.sock}, options, {});
    }
    return detail::serve_hosts(*impl_, {std::move(host)}, port, std::move(factory), options);
}

Future<Server> EventLoop::create_server(ProtocolFactory factory, std::vector<std::string> hosts, std::uint16_t port) {
    return create_server(std::move(factory), std::move(hosts), port, ServerOptions{});
}

Future<Server> EventLoop::create_server(ProtocolFactory factory, std::vector<std::string> hosts, std::uint16_t port,
                                        const ServerOptions& options) {
    impl_->check_thread("create_server");
    if (is_closed()) throw InvalidStateError("create_server: Event loop is closed");
    if (hosts.empty()) throw std::invalid_argument("create_server: empty host list");
    detail::check_server_options(options, "create_server");
    return detail::serve_hosts(*impl_, {hosts.begin(), hosts.end()}, port, std::move(factory), options);
}

Future<Server> EventLoop::create_unix_server(ProtocolFactory factory, std::string path) {
    return create_unix_server(std::move(factory), std::move(path), ServerOptions{});
}

Future<Server> EventLoop::create_unix_server(ProtocolFactory factory, std::string path, const ServerOptions& options) {
    impl_->check_thread("create_unix_server");
    if (is_closed()) throw InvalidStateError("create_unix_server: Event loop is closed");
    detail::check_server_options(options, "create_unix_server");
    if (options.sock >= 0) {
        detail::set_nonblocking(options.sock);
        return detail::serve(*impl_, std::move(factory), {options.sock}, options, {});
    }
    auto addr = SocketAddress::from_unix_path(path);
    Future<Server> result(*this);
    struct stat st;
    bool exists = path[0] != '\0' && ::stat(path.c_str(), &st) == 0;
    if (exists && S_ISSOCK(st.st_mode))
        ::unlink(path.c_str());  // a stale socket from an earlier server (asyncio does the same)
    try {
        if (exists && !S_ISSOCK(st.st_mode))  // bind() would say only "Address already in use"
            throw Error(std::error_code(EEXIST, std::system_category()),
                        "cannot listen on Unix socket " + path + ", which exists and is not a socket");
        int fd = detail::listen_on(addr, options);
        return detail::serve(*impl_, std::move(factory), {fd}, options, options.cleanup_socket ? path : std::string());
    } catch (...) {
        result.set_exception(std::current_exception());
    }
    return result;
}

std::size_t EventLoop::transport_count() const noexcept { return impl_->transports_.size(); }

}  // namespace bulb
