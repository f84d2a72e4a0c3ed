// SPDX-License-Identifier: MIT
/// @file
/// ServerImpl: listening sockets, the accept loop (EMFILE-safe) and connection accounting.
#pragma once

#include <bulb/options.hpp>
#include <bulb/protocol.hpp>
#include <bulb/server.hpp>

#include "loop/io_watcher.hpp"
#include "loop/loop_resource.hpp"
#include "tls/tls_transport.hpp"

#include <atomic>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

namespace bulb::detail {

class LoopImpl;
class StreamTransport;

class ServerImpl final : public RefCounted, public LoopResource {
public:
    /// Takes ownership of the bound, listening, non-blocking sockets in `fds`.
    ServerImpl(LoopImpl& loop, ProtocolFactory factory, std::vector<int> fds, const ServerOptions& options,
               std::string unix_path);

    void start_serving();
    void close();
    void close_clients();
    void abort_clients();
    Future<void> wait_closed();
    Future<void> serve_forever();
    bool is_serving() const noexcept { return serving_; }
    std::vector<SocketAddress> sockets() const;
    std::vector<int> fds() const;
    std::size_t connection_count() const noexcept { return clients_.size(); }
    EventLoop& loop() const noexcept;

    void attach(StreamTransport* t);
    void detach(StreamTransport* t) noexcept;

    /// LoopGroup's one-listener modes: every accepted socket goes to `handoff` (which owns it)
    /// instead of becoming a connection here. Cleared by close().
    void set_handoff(UniqueFunction<void(int fd)> handoff) { handoff_ = std::move(handoff); }
    /// Serves `fd`, accepted elsewhere, as one of this server's connections (closes it if the
    /// server is closed).
    void adopt(int fd) noexcept;
    /// Live connections, readable from any thread (relaxed: a load-balancing hint).
    std::size_t live_count() const noexcept { return live_.load(std::memory_order_relaxed); }
    /// Connections accepted so far, readable from any thread (relaxed).
    std::uint64_t accepted_count() const noexcept { return accepted_.load(std::memory_order_relaxed); }
    void close_for_loop() noexcept override { close(); }

private:
    ~ServerImpl() override;
    void on_acceptable(int listen_fd) noexcept;
    void pause_accepting_after(int err) noexcept;
    void accept_connection(int fd) noexcept;
    void maybe_wake_closed() noexcept;

    struct Listener {
        int fd;
        IoWatcher watch;
    };

    LoopImpl& loop_;
    ProtocolFactory factory_;
    std::vector<Listener> listeners_;
    ServerOptions options_;
    std::string unix_path_;  // removed on close (cleanup_socket), if still our file:
    dev_t unix_dev_ = 0;     // the socket file's identity when we bound it (asyncio 3.13 compares
    ino_t unix_ino_ = 0;     // st_ino too, so a file another server put there since survives)
    // Each connection and, for a TLS server, the TLS transport its app sees (close_clients
    // closes that one, so that close_notify is sent); counted, released when the connection goes.
    std::unordered_map<StreamTransport*, RefPtr<TlsTransport>> clients_;
    std::vector<Future<void>> closed_waiters_;
    std::optional<Future<void>> serving_forever_;
    TimerHandle accept_retry_;
    UniqueFunction<void(int fd)> handoff_;
    std::atomic<std::size_t> live_{0};        // one writer (the loop): stores, no read-modify-write
    std::atomic<std::uint64_t> accepted_{0};
    bool serving_ = false;
    bool closed_ = false;
    bool resource_error_reported_ = false;
};

}  // namespace bulb::detail
