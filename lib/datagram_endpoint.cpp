// SPDX-License-Identifier: MIT
/// @file
/// EventLoop::create_datagram_endpoint: checking the options, resolving local and remote
/// addresses off the loop, pairing them by family, and opening (bind, connect) the socket.
#include <bulb/datagram.hpp>

#include "datagram_transport.hpp"
#include "loop/loop_impl.hpp"
#include "resolver.hpp"
#include "socket_util.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulb {
namespace detail {
namespace {

/// Closes a descriptor unless released.
struct FdGuard {
    int fd;
    ~FdGuard() {
        if (fd >= 0) ::close(fd);
    }
    int release() noexcept { return std::exchange(fd, -1); }
};

int open_datagram_socket(int family) {
    int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(last_error(), "create_datagram_endpoint: socket()");
    return fd;
}

void set_flag(int fd, int level, int name, const char* what) {
    int one = 1;
    if (::setsockopt(fd, level, name, &one, sizeof one) != 0)
        throw Error(last_error(), std::string("create_datagram_endpoint: setsockopt(") + what + ")");
}

void apply_options(int fd, int family, const DatagramEndpointOptions& o) {
    if (o.reuse_port && family != AF_UNIX) set_flag(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
    if (o.allow_broadcast) set_flag(fd, SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST");
}

/// Makes the transport once the socket is ready; the future resolves after connection_made.
void make_endpoint(LoopImpl& loop, DatagramProtocolFactory& factory, FdGuard& fd, const SocketAddress& remote,
                   std::optional<BoundUnixFile> unix_file, Future<DatagramConnection>& result) {
    std::unique_ptr<DatagramProtocol> protocol;
    try {
        protocol = factory();
        if (!protocol) throw std::invalid_argument("create_datagram_endpoint: the protocol factory returned null");
    } catch (...) {
        if (unix_file) ::unlink(unix_file->path.c_str());
        result.set_exception(std::current_exception());
        return;
    }
    UdpTransport::create(loop, fd.release(), std::move(protocol), remote, std::move(unix_file), result);
}

/// A Unix-domain address for `path`, or std::invalid_argument naming the path.
SocketAddress unix_address(const std::string& path, const char* which) {
    try {
        return SocketAddress::from_unix_path(path);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("create_datagram_endpoint: ") + which + " '" + path + "': " + e.what());
    }
}

Future<DatagramConnection> open_unix(LoopImpl& loop, DatagramProtocolFactory factory, const DatagramEndpointOptions& o) {
    std::optional<SocketAddress> local, remote;
    if (!o.local_path.empty()) local = unix_address(o.local_path, "local_path");
    if (!o.remote_path.empty()) remote = unix_address(o.remote_path, "remote_path");
    Future<DatagramConnection> result(loop.owner());
    try {
        FdGuard fd{open_datagram_socket(AF_UNIX)};
        apply_options(fd.fd, AF_UNIX, o);
        std::optional<BoundUnixFile> file;
        if (local) {
            const std::string& path = o.local_path;
            struct stat st {};
            if (path[0] != '\0' && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
                ::unlink(path.c_str());  // a stale socket of an earlier endpoint, as servers do
            if (::bind(fd.fd, local->data(), local->size()) != 0)
                throw Error(last_error(), "create_datagram_endpoint: bind(" + local->to_string() + ")");
            if (path[0] != '\0' && ::stat(path.c_str(), &st) == 0) file = BoundUnixFile{path, st.st_dev, st.st_ino};
        } else if (remote) {
            // Autobind (an abstract name the kernel picks) so the peer can answer.
            sockaddr auto_name{};
            auto_name.sa_family = AF_UNIX;
            if (::bind(fd.fd, &auto_name, sizeof(sa_family_t)) != 0)
                throw Error(last_error(), "create_datagram_endpoint: autobind of a Unix datagram socket");
        }
        if (remote && ::connect(fd.fd, remote->data(), remote->size()) != 0) {
            Error err(last_error(), "create_datagram_endpoint: connect(" + remote->to_string() + ")");
            if (file) ::unlink(file->path.c_str());
            throw err;
        }
        make_endpoint(loop, factory, fd, remote.value_or(SocketAddress()), std::move(file), result);
    } catch (const Error&) {
        result.set_exception(std::current_exception());
    }
    return result;
}

/// Tries each (local, remote) pair of one family, in the order of the remote (else local)
/// addresses; the first socket that binds and connects wins.
void open_ip(LoopImpl& loop, DatagramProtocolFactory& factory, const DatagramEndpointOptions& o,
             const std::vector<SocketAddress>& locals, const std::vector<SocketAddress>& remotes,
             Future<DatagramConnection>& result) {
    const std::vector<SocketAddress>& order = o.remote_addr ? remotes : locals;
    std::vector<int> families;
    for (const auto& a : order)
        if (std::find(families.begin(), families.end(), a.family()) == families.end()) families.push_back(a.family());
    if (order.empty()) families.push_back(o.family);
    std::optional<Error> last;
    std::string tried;
    for (int family : families) {
        const SocketAddress* l = nullptr;
        const SocketAddress* r = nullptr;
        for (const auto& a : locals)
            if (!l && a.family() == family) l = &a;
        for (const auto& a : remotes)
            if (!r && a.family() == family) r = &a;
        if ((o.local_addr && !l) || (o.remote_addr && !r)) continue;  // no pair in this family
        try {
            FdGuard fd{open_datagram_socket(family)};
            apply_options(fd.fd, family, o);
            if (l && ::bind(fd.fd, l->data(), l->size()) != 0)
                throw Error(last_error(), "create_datagram_endpoint: bind(" + l->to_string() + ")");
            if (r && ::connect(fd.fd, r->data(), r->size()) != 0)
                throw Error(last_error(), "create_datagram_endpoint: connect(" + r->to_string() + ")");
            make_endpoint(loop, factory, fd, r ? *r : SocketAddress(), std::nullopt, result);
            return;
        } catch (const Error& e) {
            last = e;
        }
    }
    if (last) {
        result.set_exception(std::make_exception_ptr(*last));
    } else {
        auto name = [](const std::optional<HostPort>& hp) { return hp ? hp->host + ":" + std::to_string(hp->port) : "-"; };
        result.set_error(std::make_error_code(std::errc::address_family_not_supported),
                         "create_datagram_endpoint: local " + name(o.local_addr) + " and remote " +
                             name(o.remote_addr) + " resolve to no common address family");
    }
}

void check_options(const DatagramEndpointOptions& o) {
    bool ip = o.local_addr || o.remote_addr;
    bool unix_paths = !o.local_path.empty() || !o.remote_path.empty();
    if (o.sock >= 0) {
        if (ip || unix_paths || o.family != 0)
            throw std::invalid_argument("create_datagram_endpoint: sock given with addresses or a family");
        return;
    }
    if (ip && unix_paths) throw std::invalid_argument("create_datagram_endpoint: both IP addresses and Unix paths given");
    if (unix_paths && o.family != 0 && o.family != AF_UNIX)
        throw std::invalid_argument("create_datagram_endpoint: Unix paths with a family other than AF_UNIX");
    if (ip && o.family != 0 && o.family != AF_INET && o.family != AF_INET6)
        throw std::invalid_argument("create_datagram_endpoint: IP addresses need family AF_INET, AF_INET6 or 0");
    if (!ip && !unix_paths && o.family != AF_INET && o.family != AF_INET6 && o.family != AF_UNIX)
        throw std::invalid_argument("create_datagram_endpoint: no address, socket or family given");
}

}  // namespace
}  // namespace detail

Future<DatagramConnection> EventLoop::create_datagram_endpoint(DatagramProtocolFactory factory,
                                                               const DatagramEndpointOptions& options) {
    using namespace detail;
    impl_->check_thread("create_datagram_endpoint");
    if (is_closed()) throw InvalidStateError("create_datagram_endpoint: Event loop is closed");
    if (!factory) throw std::invalid_argument("create_datagram_endpoint: empty protocol factory");
    check_options(options);
    LoopImpl& loop = *impl_;

    if (options.sock >= 0) {
        int type = 0;
        socklen_t len = sizeof type;
        if (::getsockopt(options.sock, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
            throw std::invalid_argument("create_datagram_endpoint: sock " + std::to_string(options.sock) +
                                        " is not a datagram socket");
        set_nonblocking(options.sock);
        Future<DatagramConnection> result(*this);
        FdGuard fd{options.sock};
        make_endpoint(loop, factory, fd, peer_address(options.sock), std::nullopt, result);
        fd.release();  // on failure the caller keeps its socket (asyncio closes nothing it did not open)
        return result;
    }
    if (options.family == AF_UNIX || !options.local_path.empty() || !options.remote_path.empty())
        return open_unix(loop, std::move(factory), options);

    // IP: resolve both sides (numeric addresses at once, names on the executor), then open.
    auto none = [this] {
        Future<std::vector<SocketAddress>> f(*this);
        f.set_result(std::vector<SocketAddress>{});
        return f;
    };
    auto locals = options.local_addr
                      ? resolve(*this, options.local_addr->host, options.local_addr->port, options.family, true)
                      : none();
    auto remotes = options.remote_addr
                       ? resolve(*this, options.remote_addr->host, options.remote_addr->port, options.family, false)
                       : none();
    Future<DatagramConnection> result(*this);
    // The resolution callbacks keep the results here (not the futures: no reference cycle).
    struct Pending {
        LoopImpl& loop;
        DatagramProtocolFactory factory;
        DatagramEndpointOptions options;
        Future<DatagramConnection> result;
        std::vector<SocketAddress> addrs[2];
        std::exception_ptr error;
        int waiting = 2;
    };
    auto p = std::make_shared<Pending>(Pending{loop, std::move(factory), options, result, {}, nullptr, 2});
    for (int side = 0; side < 2; ++side) {
        auto& f = side == 0 ? locals : remotes;
        f.add_done_callback([p, side](Future<std::vector<SocketAddress>>& done) {
            if (p->result.done()) return;  // cancelled meanwhile
            try {
                p->addrs[side] = done.result();
            } catch (...) {
                if (!p->error) p->error = std::current_exception();
            }
            if (--p->waiting > 0) return;
            if (p->error) p->result.set_exception(p->error);
            else open_ip(p->loop, p->factory, p->options, p->addrs[0], p->addrs[1], p->result);
        });
    }
    return result;
}

}  // namespace bulb
