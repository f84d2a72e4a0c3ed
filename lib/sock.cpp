// SPDX-License-Identifier: MIT
/// @file
/// sock_recv, sock_sendall, sock_connect, ...: try at once, else watch the descriptor.
#include <bulb/sock.hpp>

#include <cerrno>
#include <memory>
#include <optional>
#include <stdexcept>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bulb {
namespace {

void require_nonblocking(int fd, const char* what) {
    int flags = ::fcntl(fd, F_GETFL);
    // A negative number or a blocking descriptor is misuse (asyncio: ValueError); one that is not
    // open is the OS's answer (EBADF), a bulb::Error as add_reader gives.
    if (fd < 0) throw std::invalid_argument(std::string(what) + ": invalid descriptor " + std::to_string(fd));
    if (flags < 0) throw Error(errno, std::system_category(), std::string(what) + ": descriptor " + std::to_string(fd));
    if (!(flags & O_NONBLOCK))
        throw std::invalid_argument(std::string(what) + ": descriptor " + std::to_string(fd) + " is blocking");
}

bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

template <class T>
void complete(Future<T>& f, std::optional<T>& value) {
    f.set_result(std::move(*value));
}
void complete(Future<void>& f, std::optional<bool>&) { f.set_result(); }

template <class T>
using Value = std::conditional_t<std::is_void_v<T>, bool, T>;

/// Runs `attempt` (returns the value when done, std::nullopt when it would block, or sets `ec`)
/// now and, while it would block, each time `fd` is ready in the direction given.
template <class T, class Attempt>
Future<T> io_op(EventLoop& loop, int fd, bool write, std::string what, Attempt attempt) {
    Future<T> f(loop);
    std::error_code ec;
    std::optional<Value<T>> v = attempt(ec);
    if (v) {
        complete(f, v);
        return f;
    }
    if (ec) {
        f.set_error(ec, what);
        return f;
    }
    auto on_ready = [&loop, fd, write, f, what, attempt = std::move(attempt)]() mutable {
        if (f.done()) return;
        std::error_code e;
        std::optional<Value<T>> result = attempt(e);
        if (!result && !e) return;  // still would block
        Future<T> fut = f;  // removing the watch destroys this lambda: locals only after it
        std::string msg = std::move(what);
        EventLoop& lp = loop;
        write ? lp.remove_writer(fd) : lp.remove_reader(fd);
        fut.set_canceller({});
        if (result) complete(fut, result);
        else fut.set_error(e, msg);
    };
    if (write) loop.add_writer(fd, std::move(on_ready));
    else loop.add_reader(fd, std::move(on_ready));
    f.set_canceller([&loop, fd, write, f](std::string msg) {
        auto r = f;  // set_canceller({}) destroys this lambda: use locals only after it
        EventLoop& lp = loop;
        write ? lp.remove_writer(fd) : lp.remove_reader(fd);
        r.set_canceller({});
        return r.cancel(std::move(msg));
    });
    return f;
}

std::string fd_name(const char* call, int fd) { return std::string(call) + "(fd " + std::to_string(fd) + ")"; }

}  // namespace

Future<std::string> sock_recv(EventLoop& loop, int fd, std::size_t nbytes) {
    require_nonblocking(fd, "sock_recv");
    return io_op<std::string>(loop, fd, false, fd_name("sock_recv", fd),
                              [fd, nbytes](std::error_code& ec) -> std::optional<std::string> {
                                  std::string buf(nbytes, '\0');
                                  ssize_t n = ::recv(fd, buf.data(), nbytes, 0);
                                  if (n < 0) {
                                      if (!would_block(errno)) ec = {errno, std::system_category()};
                                      return std::nullopt;
                                  }
                                  buf.resize(static_cast<std::size_t>(n));
                                  return buf;
                              });
}

Future<std::size_t> sock_recv_into(EventLoop& loop, int fd, MutableByteView buf) {
    require_nonblocking(fd, "sock_recv_into");
    return io_op<std::size_t>(loop, fd, false, fd_name("sock_recv_into", fd),
                              [fd, buf](std::error_code& ec) -> std::optional<std::size_t> {
                                  ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
                                  if (n < 0) {
                                      if (!would_block(errno)) ec = {errno, std::system_category()};
                                      return std::nullopt;
                                  }
                                  return static_cast<std::size_t>(n);
                              });
}

Future<void> sock_sendall(EventLoop& loop, int fd, ByteView data) {
    require_nonblocking(fd, "sock_sendall");
    auto rest = std::make_shared<std::string>(as_string_view(data));
    auto sent = std::make_shared<std::size_t>(0);
    return io_op<void>(loop, fd, true, fd_name("sock_sendall", fd),
                       [fd, rest, sent](std::error_code& ec) -> std::optional<bool> {
                           while (*sent < rest->size()) {
                               ssize_t n = ::send(fd, rest->data() + *sent, rest->size() - *sent, MSG_NOSIGNAL);
                               if (n < 0) {
                                   if (!would_block(errno)) ec = {errno, std::system_category()};
                                   return std::nullopt;
                               }
                               *sent += static_cast<std::size_t>(n);
                           }
                           return true;
                       });
}

Future<void> sock_connect(EventLoop& loop, int fd, const SocketAddress& addr) {
    require_nonblocking(fd, "sock_connect");
    std::string what = "sock_connect(fd " + std::to_string(fd) + ", " + addr.to_string() + ")";
    Future<void> f(loop);
    if (::connect(fd, addr.data(), addr.size()) == 0) {
        f.set_result();
        return f;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
        f.set_error({errno, std::system_category()}, what);
        return f;
    }
    // In progress: writable means done; SO_ERROR says how.
    return io_op<void>(loop, fd, true, what, [fd, started = false](std::error_code& ec) mutable -> std::optional<bool> {
        if (!started) {  // the immediate attempt: the connect was just started
            started = true;
            return std::nullopt;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err == 0) return true;
        if (err == EINPROGRESS) return std::nullopt;
        ec = {err, std::system_category()};
        return std::nullopt;
    });
}

Future<std::pair<int, SocketAddress>> sock_accept(EventLoop& loop, int fd) {
    require_nonblocking(fd, "sock_accept");
    using Accepted = std::pair<int, SocketAddress>;
    return io_op<Accepted>(loop, fd, false, fd_name("sock_accept", fd),
                           [fd](std::error_code& ec) -> std::optional<Accepted> {
                               SocketAddress peer;
                               socklen_t len = peer.capacity();
                               int c = ::accept4(fd, peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                               if (c < 0) {
                                   if (!would_block(errno) && errno != ECONNABORTED) ec = {errno, std::system_category()};
                                   return std::nullopt;
                               }
                               peer.set_size(len);
                               return Accepted{c, peer};
                           });
}

Future<std::pair<std::string, SocketAddress>> sock_recvfrom(EventLoop& loop, int fd, std::size_t bufsize) {
    require_nonblocking(fd, "sock_recvfrom");
    using Received = std::pair<std::string, SocketAddress>;
    return io_op<Received>(loop, fd, false, fd_name("sock_recvfrom", fd),
                           [fd, bufsize](std::error_code& ec) -> std::optional<Received> {
                               std::string buf(bufsize, '\0');
                               SocketAddress from;
                               socklen_t len = from.capacity();
                               ssize_t n = ::recvfrom(fd, buf.data(), bufsize, 0, from.data(), &len);
                               if (n < 0) {
                                   if (!would_block(errno)) ec = {errno, std::system_category()};
                                   return std::nullopt;
                               }
                               from.set_size(len);
                               buf.resize(static_cast<std::size_t>(n));
                               return Received{std::move(buf), from};
                           });
}

Future<std::size_t> sock_sendto(EventLoop& loop, int fd, ByteView data, const SocketAddress& addr) {
    require_nonblocking(fd, "sock_sendto");
    auto copy = std::make_shared<std::string>(as_string_view(data));
    return io_op<std::size_t>(loop, fd, true, "sock_sendto(fd " + std::to_string(fd) + ", " + addr.to_string() + ")",
                              [fd, copy, addr](std::error_code& ec) -> std::optional<std::size_t> {
                                  ssize_t n = ::sendto(fd, copy->data(), copy->size(), MSG_NOSIGNAL, addr.data(),
                                                       addr.size());
                                  if (n < 0) {
                                      if (!would_block(errno)) ec = {errno, std::system_category()};
                                      return std::nullopt;
                                  }
                                  return static_cast<std::size_t>(n);
                              });
}

}  // namespace bulb
