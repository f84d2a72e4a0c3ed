// SPDX-License-Identifier: MIT
/// @file
/// Outgoing connections: resolution off the loop, every address tried in order, Happy Eyeballs
/// (RFC 8305) between families, a local address, an overall timeout, and accepted sockets.
#include "loop/loop_impl.hpp"
#include "resolver.hpp"
#include "socket_util.hpp"
#include "stream_transport.hpp"
#include "tls/tls_protocol.hpp"

#include <bulb/options.hpp>

#include <event2/event.h>

#include <algorithm>

#include <sys/socket.h>
#include <unistd.h>

namespace bulb {
namespace detail {
namespace {

/// Orders addresses as RFC 8305 §4 asks: alternate families, starting with the first one's.
std::vector<SocketAddress> interleave_families(std::vector<SocketAddress> addrs) {
    if (addrs.empty()) return addrs;
    int first = addrs[0].family();
    std::vector<SocketAddress> a, b, out;
    for (auto& x : addrs) (x.family() == first ? a : b).push_back(x);
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i < a.size()) out.push_back(a[i]);
        if (i < b.size()) out.push_back(b[i]);
    }
    return out;
}

/// One create_connection in progress. Listed with the loop's servers while pending, so that
/// EventLoop::close() abandons it: its sockets closed, its future cancelled.
class Connector final : public RefCounted, public LoopResource {
public:
    Connector(LoopImpl& loop, ProtocolFactory factory, const ConnectOptions& options, Future<Connection> result)
        : loop_(loop), factory_(std::move(factory)), options_(options), result_(std::move(result)) {
        loop_.servers_.push(this);
    }

    /// The future is done: leave the loop's list (idempotent).
    void unlist() noexcept {
        if (!listed_) return;
        listed_ = false;
        loop_.servers_.remove(this);
    }

    /// The loop closes while connecting: close the attempts and cancel the future. The future's
    /// done callbacks (which hold this connector) may never run now, so drop our handle to it:
    /// no reference cycle outlives the loop.
    void close_for_loop() noexcept override {
        RefPtr<Connector> keep(this);
        unlist();
        finish_attempts();
        if (result_ && !result_->done()) {
            result_->set_canceller({});
            result_->cancel("event loop closed");
        }
        result_.reset();
    }

    void start(std::vector<SocketAddress> addrs, bool interleave) {
        if (!pending()) return;
        addrs_ = interleave ? interleave_families(std::move(addrs)) : std::move(addrs);
        if (addrs_.empty()) return fail();
        next_attempt();
    }

    void arm_timeout() {
        if (options_.timeout <= Duration::zero()) return;
        timeout_ = loop_.owner().call_later(options_.timeout, [self = RefPtr<Connector>(this)] {
            self->finish_attempts();
            if (self->pending()) self->result_->set_exception(std::make_exception_ptr(TimeoutError(self->timeout_message())));
        });
    }

    /// "connect to 127.0.0.1:80, [::1]:80 timed out after 250 ms": the addresses tried, or that
    /// resolution had not finished.
    std::string timeout_message() const {
        std::string where;
        for (const SocketAddress& a : addrs_) where += (where.empty() ? "" : ", ") + a.to_string();
        if (where.empty()) where = "(the host name was still being resolved)";
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count();
        return "connect to " + where + " timed out after " + std::to_string(ms) + " ms";
    }

    /// Stops every attempt (cancellation, timeout, or success).
    void finish_attempts() noexcept {
        timeout_.cancel();
        stagger_.cancel();
        for (auto& a : attempts_) {
            a.watch.reset();
            if (a.fd >= 0) ::close(a.fd);
        }
        attempts_.clear();
        next_ = addrs_.size();
    }

private:
    ~Connector() override { unlist(); }

    bool pending() const noexcept { return result_ && !result_->done(); }

    struct Attempt {
        int fd;
        SocketAddress addr;
        IoWatcher watch;
    };

    void next_attempt() noexcept {
        stagger_.cancel();
        while (next_ < addrs_.size() && pending()) {
            const SocketAddress& addr = addrs_[next_++];
            int fd = -1;
            try {
                fd = open_stream_socket(addr.family());
                if (options_.local_addr && ::bind(fd, options_.local_addr->data(), options_.local_addr->size()) != 0)
                    throw Error(last_error(), "bind to local address " + options_.local_addr->to_string());
                if (::connect(fd, addr.data(), addr.size()) == 0) return won(fd);
                if (errno != EINPROGRESS) throw Error(last_error(), "connect to " + addr.to_string());
                attempts_.push_back({fd, addr, IoWatcher(loop_, fd, EV_WRITE, [this, fd] { on_writable(fd); })});
                attempts_.back().watch.start();
            } catch (const std::system_error& e) {
                if (fd >= 0) ::close(fd);
                // The final Error adds the code's message once: keep only what was attempted.
                std::string what = e.what(), suffix = ": " + e.code().message();
                if (what.ends_with(suffix)) what.resize(what.size() - suffix.size());
                errors_.push_back({e.code(), std::move(what)});
                continue;
            }
            // Happy Eyeballs: give this attempt a head start, then race the next address too.
            if (next_ < addrs_.size() && options_.happy_eyeballs_delay > Duration::zero())
                stagger_ = loop_.owner().call_later(options_.happy_eyeballs_delay,
                                                    [self = RefPtr<Connector>(this)] { self->next_attempt(); });
            return;
        }
        if (attempts_.empty()) fail();
    }

    void on_writable(int fd) noexcept {
        RefPtr<Connector> keep(this);
        auto it = std::find_if(attempts_.begin(), attempts_.end(), [fd](const Attempt& a) { return a.fd == fd; });
        if (it == attempts_.end()) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err == 0) {
            it->fd = -1;  // handed to the transport
            return won(fd);
        }
        errors_.push_back({std::error_code(err, std::system_category()), "connect to " + it->addr.to_string()});
        it->watch.reset();
        ::close(fd);
        attempts_.erase(it);
        next_attempt();  // a failure starts the next address at once (RFC 8305 §5)
    }

    void won(int fd) noexcept {
        finish_attempts();
        if (!pending()) {  // cancelled meanwhile
            ::close(fd);
            return;
        }
        try {
            if (options_.keep_alive) set_keep_alive(fd, *options_.keep_alive);
            auto protocol = factory_();
            if (!protocol) throw std::invalid_argument("protocol factory returned null");
            if (options_.tls) {  // the TLS layer resolves the future after its handshake
                TlsSettings tls{*options_.tls, false, options_.server_hostname, options_.tls_handshake_timeout,
                                options_.tls_shutdown_timeout};
                auto wrapping = wrap_tls(loop_.owner(), std::move(tls), std::move(protocol), *result_);
                StreamTransport::create(loop_, fd, std::move(wrapping.raw_protocol), nullptr, std::nullopt);
            } else {
                StreamTransport::create(loop_, fd, std::move(protocol), nullptr, *result_);
            }
        } catch (...) {
            ::close(fd);
            result_->set_exception(std::current_exception());
        }
    }

    void fail() noexcept {
        finish_attempts();
        if (!pending()) return;
        if (errors_.empty()) {
            result_->set_error(std::make_error_code(std::errc::host_unreachable), "no address to connect to");
            return;
        }
        bool same = true;
        for (auto& e : errors_) same = same && e.first == errors_[0].first;
        std::string what;
        for (auto& e : errors_) what += (what.empty() ? "" : "; ") + e.second;
        if (!same) what = "Multiple exceptions: " + what;
        result_->set_exception(std::make_exception_ptr(Error(errors_[0].first, what)));
    }

    LoopImpl& loop_;
    ProtocolFactory factory_;
    ConnectOptions options_;
    std::optional<Future<Connection>> result_;  // reset when the loop closes
    bool listed_ = true;
    std::vector<SocketAddress> addrs_;
    std::size_t next_ = 0;
    std::vector<Attempt> attempts_;
    std::vector<std::pair<std::error_code, std::string>> errors_;
    TimerHandle stagger_;
    TimerHandle timeout_;
};

Future<Connection> connect_to(LoopImpl& loop, ProtocolFactory factory, const ConnectOptions& options,
                              Future<std::vector<SocketAddress>> addrs, bool interleave) {
    Future<Connection> result(loop.owner());
    RefPtr<Connector> connector(new Connector(loop, std::move(factory), options, result));
    // The canceller holds the connector counted; the future drops it once done (and
    // close_for_loop drops it if the loop closes first), so no cycle outlives the attempt.
    result.set_canceller([connector, result](std::string msg) {
        auto r = result;  // set_canceller({}) destroys this lambda: use locals only after it
        RefPtr<Connector> c = connector;
        c->finish_attempts();
        r.set_canceller({});
        return r.cancel(std::move(msg));
    });
    connector->arm_timeout();
    addrs.add_done_callback([connector, interleave, result](Future<std::vector<SocketAddress>>& f) mutable {
        if (result.done()) return;
        try {
            connector->start(std::move(f.result()), interleave);
        } catch (...) {
            connector->finish_attempts();
            if (!result.done()) result.set_exception(std::current_exception());
        }
    });
    // The future's done callback unlists the connector from the loop.
    result.add_done_callback([connector] {
        connector->finish_attempts();
        connector->unlist();
    });
    return result;
}

}  // namespace
}  // namespace detail

Future<Connection> EventLoop::create_connection(ProtocolFactory factory, std::string host, std::uint16_t port) {
    return create_connection(std::move(factory), std::move(host), port, ConnectOptions{});
}

Future<Connection> EventLoop::create_connection(ProtocolFactory factory, std::string host, std::uint16_t port,
                                                const ConnectOptions& options) {
    impl_->check_thread("create_connection");
    // Checked first: a closed loop cannot schedule, and a half-built connect would leak.
    if (is_closed()) throw InvalidStateError("create_connection: Event loop is closed");
    if (host.empty()) throw std::invalid_argument("create_connection: empty host");
    ConnectOptions opts = options;
    if (opts.tls && opts.tls->is_server()) throw std::invalid_argument("create_connection: a server TlsContext");
    if (opts.keep_alive) detail::check_keep_alive(*opts.keep_alive, "create_connection");
    if (opts.tls && opts.server_hostname.empty()) opts.server_hostname = host;
    auto addrs = detail::resolve(*this, std::move(host), port, opts.family, false);
    return detail::connect_to(*impl_, std::move(factory), opts, std::move(addrs), opts.happy_eyeballs_delay > Duration::zero());
}

Future<Connection> EventLoop::create_unix_connection(ProtocolFactory factory, std::string path) {
    return create_unix_connection(std::move(factory), std::move(path), ConnectOptions{});
}

Future<Connection> EventLoop::create_unix_connection(ProtocolFactory factory, std::string path,
                                                     const ConnectOptions& options) {
    impl_->check_thread("create_unix_connection");
    if (is_closed()) throw InvalidStateError("create_unix_connection: Event loop is closed");
    if (options.tls && !options.tls->is_server() && options.server_hostname.empty() && options.tls->requires_hostname())
        throw std::invalid_argument("create_unix_connection: You must set server_hostname when using TLS without a host "
                                    "(or make the client TlsContext with verify_hostname = false)");
    Future<std::vector<SocketAddress>> addrs(*this);
    addrs.set_result({SocketAddress::from_unix_path(path)});
    ConnectOptions unix_options = options;
    unix_options.local_addr.reset();
    return detail::connect_to(*impl_, std::move(factory), unix_options, std::move(addrs), false);
}

Future<Connection> EventLoop::connect_accepted_socket(ProtocolFactory factory, int fd) {
    impl_->check_thread("connect_accepted_socket");
    if (is_closed()) throw InvalidStateError("connect_accepted_socket: Event loop is closed");
    detail::set_nonblocking(fd);
    auto protocol = factory();
    if (!protocol) throw std::invalid_argument("connect_accepted_socket: protocol factory returned null");
    Future<Connection> result(*this);
    detail::StreamTransport::create(*impl_, fd, std::move(protocol), nullptr, result);
    return result;
}

}  // namespace bulb
