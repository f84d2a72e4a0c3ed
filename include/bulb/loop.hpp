// SPDX-License-Identifier: MIT
/// @file
/// EventLoop: callbacks, timers, fd watchers, signals, thread-safe wake-ups and a thread pool.
///
/// Invariants (PEP 3156):
/// - Nothing is called back from inside the call that scheduled it; every callback runs from the
///   loop, one iteration running exactly the callbacks that were ready when it began.
/// - call_soon callbacks run in FIFO order; timers in deadline order, equal deadlines FIFO.
/// - An exception escaping a callback goes to the exception handler; the loop goes on.
/// - Everything is loop-thread-only except call_soon_threadsafe().
#pragma once

#include <bulb/config.hpp>
#include <bulb/error.hpp>
#include <bulb/executor.hpp>
#include <bulb/function.hpp>
#include <bulb/handle.hpp>
#include <bulb/ref.hpp>
#include <bulb/threadsafe_handle.hpp>

#include <cstddef>
#include <exception>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace bulb {

template <class T>
class Future;
template <class T>
class Task;  // <bulb/coro/task.hpp>
class Protocol;
class Server;
class SocketAddress;
class TlsContext;
class Transport;
class DatagramProtocol;
class DatagramTransport;
struct Connection;
struct DatagramConnection;
struct DatagramEndpointOptions;
struct AddrInfo;
struct NameInfo;
struct ConnectOptions;
struct ServerOptions;
struct StartTlsOptions;  // <bulb/options.hpp>
struct SubprocessConnection;
struct SubprocessOptions;
class SubprocessProtocol;
using ProtocolFactory = UniqueFunction<std::unique_ptr<Protocol>()>;
using SubprocessProtocolFactory = UniqueFunction<std::unique_ptr<SubprocessProtocol>()>;
using DatagramProtocolFactory = UniqueFunction<std::unique_ptr<DatagramProtocol>()>;

namespace detail {
class LoopImpl;
}

/// What the exception handler is told (asyncio's context dict).
struct ExceptionContext {
    std::string message;                   ///< what was happening, e.g. "Exception in callback"
    std::exception_ptr exception = nullptr;  ///< the exception, when there is one
    Transport* transport = nullptr;          ///< the transport involved, when there is one
    DatagramTransport* datagram_transport = nullptr;  ///< the datagram endpoint involved, when there is one
};

/// Per-loop state of a layer built on the loop (the coroutine layer keeps its list of pending
/// tasks in one): derive from it, give it a constructor taking EventLoop&, and reach the loop's
/// instance with EventLoop::extension<T>(). Loop thread only.
class BULB_API LoopExtension {
public:
    LoopExtension() = default;
    LoopExtension(const LoopExtension&) = delete;
    LoopExtension& operator=(const LoopExtension&) = delete;
    virtual ~LoopExtension();
};

/// Settings fixed when a loop is made.
struct LoopOptions {
    /// Time jumps to the next timer deadline whenever nothing is ready, so timer-driven code runs
    /// deterministically and takes no wall time (asyncio's TestLoop). I/O still works.
    bool virtual_clock = false;
    /// Threads of the run_in_executor pool; 0 picks min(32, cores + 4) as asyncio does.
    std::size_t executor_threads = 0;
};

/// The event loop: one per thread at most runs at a time.
///
/// Owned by the user (stack or heap); not movable. Loop thread only, except
/// call_soon_threadsafe(). Closing is explicit (close()), and the destructor closes too.
class BULB_API EventLoop {
public:
    EventLoop();
    /// A loop with options (virtual clock, executor size).
    explicit EventLoop(const LoopOptions& options);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// The loop running on this thread, or nullptr (asyncio._get_running_loop).
    static EventLoop* current() noexcept;

    // --- running ---------------------------------------------------------------------------
    // Loop thread only: in debug mode (set_debug(true)), and always in debug and sanitizer
    // builds, every member but call_soon_threadsafe() and the const queries throws
    // InvalidStateError naming the call when it comes from another thread while the loop runs.

    /// Runs until stop() is called. Throws InvalidStateError if closed or already running.
    void run_forever();
    /// Runs until `future` is done and returns its result (or throws its exception).
    /// Defined in <bulb/future.hpp>.
    template <class T>
    T run_until_complete(Future<T> future);
    /// Schedules `task` on this loop (create_task) and runs until it is done, as asyncio's
    /// run_until_complete does with a coroutine. Defined in <bulb/coro/task.hpp>.
    template <class T>
    T run_until_complete(Task<T> task);
    /// Makes run_forever() return after the current iteration (before the next poll).
    void stop() noexcept;
    /// True while run_forever() / run_until_complete() runs.
    bool is_running() const noexcept;
    /// Drops pending callbacks and timers, joins the executor, frees the loop's resources.
    /// Throws InvalidStateError on a running loop; idempotent.
    void close();
    /// True after close().
    bool is_closed() const noexcept;

    // --- scheduling ------------------------------------------------------------------------
    /// The loop's monotonic time (virtual with LoopOptions::virtual_clock).
    TimePoint time() const noexcept;
    /// Runs `fn` on the next iteration, after the callbacks already scheduled (FIFO).
    Handle call_soon(UniqueFunction<void()> fn);
    /// Runs `fn` once `delay` has passed (a negative delay means now). Equal deadlines run FIFO.
    TimerHandle call_later(Duration delay, UniqueFunction<void()> fn);
    /// Runs `fn` at `when` on the loop clock.
    TimerHandle call_at(TimePoint when, UniqueFunction<void()> fn);
    /// The one thread-safe entry point: schedules `fn` from any thread and wakes the loop.
    /// Throws InvalidStateError once the loop is closed. The handle cancels `fn` from any thread
    /// until it starts (see <bulb/threadsafe_handle.hpp>).
    ThreadsafeHandle call_soon_threadsafe(UniqueFunction<void()> fn);

    // --- executor --------------------------------------------------------------------------
    /// Runs `fn()` on the loop's thread pool; the future resolves on the loop thread with its
    /// result or exception. Cancelling the future does not stop `fn` but drops its result.
    /// With a default executor set (set_default_executor), runs there as the overload below.
    /// Throws InvalidStateError after shutdown_default_executor(). Defined in <bulb/future.hpp>.
    template <class F>
    BULB_RESULT auto run_in_executor(F fn) -> Future<std::invoke_result_t<F&>>;
    /// Runs `fn()` on `executor` (asyncio's run_in_executor(executor, fn)); the future resolves
    /// on the loop thread. `executor` must outlive the call only (the job owns what it needs);
    /// a job the executor drops unrun fails with InvalidStateError. Cancelling the future drops
    /// the result, and skips `fn` if it has not started. Defined in <bulb/wrap_future.hpp>.
    template <class F>
    BULB_RESULT auto run_in_executor(Executor& executor, F fn) -> Future<std::invoke_result_t<F&>>;
    /// Queues a job for the default executor (the built-in pool, starting it on first use, or
    /// the one set with set_default_executor); the job runs on a worker thread.
    void submit_to_executor(UniqueFunction<void()> job);
    /// Makes `executor` the default of run_in_executor(fn) and submit_to_executor (asyncio's
    /// set_default_executor); the loop shares its ownership and calls shutdown(false) on it at
    /// close(). Null restores the built-in pool. Throws InvalidStateError after
    /// shutdown_default_executor().
    void set_default_executor(std::shared_ptr<Executor> executor);
    /// The executor set with set_default_executor, or nullptr while the built-in pool serves.
    Executor* default_executor() const noexcept;
    /// Stops the default executor taking work and joins its threads on a helper thread (asyncio's
    /// shutdown_default_executor); the future resolves once they are joined or, with `timeout`,
    /// when it passes (the exception handler is told the threads are still running; close()
    /// then waits for them). A second call returns the first call's future.
    BULB_RESULT Future<void> shutdown_default_executor(std::optional<Duration> timeout = std::nullopt);

    // --- file descriptors and signals ------------------------------------------------------
    /// Calls `fn` whenever `fd` is readable, until remove_reader(); replaces an earlier reader.
    void add_reader(int fd, UniqueFunction<void()> fn);
    /// Stops watching `fd` for reading; returns whether it was watched.
    bool remove_reader(int fd);
    /// Calls `fn` whenever `fd` is writable, until remove_writer(); replaces an earlier writer.
    void add_writer(int fd, UniqueFunction<void()> fn);
    /// Stops watching `fd` for writing; returns whether it was watched.
    bool remove_writer(int fd);
    /// Calls `fn` on the loop thread (never in signal context) each time `signum` arrives.
    /// Throws std::invalid_argument for SIGKILL/SIGSTOP or an invalid number.
    void add_signal_handler(int signum, UniqueFunction<void()> fn);
    /// Restores the default disposition of `signum`; returns whether a handler was installed.
    bool remove_signal_handler(int signum);

    // --- connections (defined in lib/server.cpp and lib/connect.cpp) -----------------------
    /// Listens on `host` (a name or numeric address; std::nullopt: every interface of every
    /// family) and `port` (0: any free port; see Server::sockets()). Each accepted connection
    /// gets a protocol from `factory`. The future fails with bulb::Error (the OS error) when
    /// resolution, bind or listen fails. Name resolution runs on the executor, never on the loop.
    BULB_RESULT Future<Server> create_server(ProtocolFactory factory, std::optional<std::string> host, std::uint16_t port,
                                 const ServerOptions& options);
    /// The same, with default options.
    BULB_RESULT Future<Server> create_server(ProtocolFactory factory, std::optional<std::string> host, std::uint16_t port);
    /// Listens on several hosts at once (one or more sockets per host).
    BULB_RESULT Future<Server> create_server(ProtocolFactory factory, std::vector<std::string> hosts, std::uint16_t port,
                                 const ServerOptions& options);
    /// The same, with default options.
    BULB_RESULT Future<Server> create_server(ProtocolFactory factory, std::vector<std::string> hosts, std::uint16_t port);
    /// Listens on a Unix socket `path` (a leading '\0' makes a Linux abstract name). A stale
    /// socket file left by a dead server is replaced; any other file there is an error.
    BULB_RESULT Future<Server> create_unix_server(ProtocolFactory factory, std::string path, const ServerOptions& options);
    /// The same, with default options.
    BULB_RESULT Future<Server> create_unix_server(ProtocolFactory factory, std::string path);
    /// Connects to `host`:`port`, trying every resolved address (Happy Eyeballs between
    /// families). Resolves after the protocol's connection_made() returned; fails with
    /// bulb::Error (the OS error, e.g. connection refused) or TimeoutError. Cancelling the future
    /// abandons the attempt.
    BULB_RESULT Future<Connection> create_connection(ProtocolFactory factory, std::string host, std::uint16_t port,
                                         const ConnectOptions& options);
    /// The same, with default options.
    BULB_RESULT Future<Connection> create_connection(ProtocolFactory factory, std::string host, std::uint16_t port);
    /// Connects to the Unix socket `path`.
    BULB_RESULT Future<Connection> create_unix_connection(ProtocolFactory factory, std::string path,
                                              const ConnectOptions& options);
    /// The same, with default options.
    BULB_RESULT Future<Connection> create_unix_connection(ProtocolFactory factory, std::string path);
    /// Wraps a connected stream socket from elsewhere (the transport owns and closes `fd`).
    BULB_RESULT Future<Connection> connect_accepted_socket(ProtocolFactory factory, int fd);
    /// Upgrades a live stream connection to TLS (STARTTLS). Bytes already written are sent first;
    /// `already_read` (bytes the old protocol read past the upgrade point) go to the TLS engine.
    /// The transport's protocol stays the application protocol (no second connection_made);
    /// the future resolves with the new app-side transport after the handshake, or fails with
    /// the handshake error (the connection is then aborted). As in asyncio, the protocol may get
    /// data_received (TLS data that came with the handshake's last flight) before the future's
    /// callbacks have run: it must expect TLS data from this call on. Cancelling the future during
    /// the handshake abandons it: the connection is aborted (connection_lost gets errc::cancelled).
    /// Defined in lib/tls/tls_protocol.cpp.
    /// No defaulted arguments (a defaulted std::string is a temporary inside the caller's co_await).
    BULB_RESULT Future<RefPtr<Transport>> start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                        std::string server_hostname, std::string already_read);
    /// The same, with no bytes already read.
    BULB_RESULT Future<RefPtr<Transport>> start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                        std::string server_hostname);
    /// The same, with no host name (a server, or a client context that does not check names).
    BULB_RESULT Future<RefPtr<Transport>> start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side);
    /// start_tls with asyncio's keyword arguments as a struct (server_side, server_hostname,
    /// ssl_handshake_timeout, ssl_shutdown_timeout; see StartTlsOptions). A handshake that
    /// outlasts its timeout fails the future with errc::timed_out and aborts the connection.
    /// Loop thread only; cancelling the future abandons the handshake.
    BULB_RESULT Future<RefPtr<Transport>> start_tls(RefPtr<Transport> transport, const TlsContext& tls,
                                                    const StartTlsOptions& options);

    /// asyncio's loop.sendfile: `transport.sendfile(fd, offset, count, fallback)` (see
    /// <bulb/transport.hpp> for the rules). Defined in lib/sendfile.cpp.
    BULB_RESULT Future<std::uint64_t> sendfile(Transport& transport, int fd, std::uint64_t offset = 0,
                                               std::optional<std::uint64_t> count = std::nullopt,
                                               bool fallback = true);

    // --- pipes (defined in lib/pipe_transport.cpp; see <bulb/pipe.hpp>) -------------------
    /// Wraps the read end of a pipe, FIFO, socket or character device; the transport owns `fd`.
    /// Throws std::invalid_argument for a regular file or directory (epoll cannot watch them).
    /// Resolves after connection_made() returned.
    Future<Connection> connect_read_pipe(ProtocolFactory factory, int fd);
    /// Wraps the write end of a pipe, FIFO, socket or character device; EPIPE arrives through
    /// connection_lost, never as a SIGPIPE death.
    Future<Connection> connect_write_pipe(ProtocolFactory factory, int fd);

    // --- subprocesses (defined in lib/subprocess.cpp; see <bulb/subprocess.hpp>) -----------
    /// Starts `argv` (argv[0] looked up in PATH unless it holds a '/'). Throws
    /// std::invalid_argument for an empty argv, a nul byte in an argument or a bad option. The
    /// future fails with bulb::Error carrying the child's errno when it cannot start (missing
    /// program, no permission, bad cwd), else resolves after the protocol's connection_made().
    Future<SubprocessConnection> subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> argv,
                                                 const SubprocessOptions& options);
    /// The same, with default options (every stdio a pipe).
    Future<SubprocessConnection> subprocess_exec(SubprocessProtocolFactory factory, std::vector<std::string> argv);
    /// Runs `cmd` with /bin/sh -c.
    Future<SubprocessConnection> subprocess_shell(SubprocessProtocolFactory factory, std::string cmd,
                                                  const SubprocessOptions& options);
    /// The same, with default options.
    Future<SubprocessConnection> subprocess_shell(SubprocessProtocolFactory factory, std::string cmd);
    /// Opens a UDP (IPv4, IPv6) or Unix datagram endpoint as `options` say (asyncio's
    /// create_datagram_endpoint) with a protocol from `factory`. Resolves after connection_made()
    /// returned; fails with bulb::Error naming the address when resolution, bind or connect
    /// fails. Throws std::invalid_argument for contradictory options. Defined in
    /// lib/datagram_endpoint.cpp; include <bulb/datagram.hpp> to use it.
    Future<DatagramConnection> create_datagram_endpoint(DatagramProtocolFactory factory,
                                                        const DatagramEndpointOptions& options);

    // --- name resolution (defined in lib/getaddrinfo.cpp; results in <bulb/getaddrinfo.hpp>) --
    /// getaddrinfo(3) on the executor, never blocking the loop: every answer for `host` (nullopt:
    /// with AI_PASSIVE the wildcard, else loopback) and `port` (a number or service name; nullopt:
    /// none), filtered by `family`, `type`, `proto` and AI_* `flags`, in the resolver's order.
    /// Fails with bulb::Error whose code is in gai_category() (gai_errc::no_name,
    /// gai_errc::again, ...) and whose message names the query. Cancelling drops the result.
    Future<std::vector<AddrInfo>> getaddrinfo(std::optional<std::string> host, std::optional<std::string> port,
                                              int family = 0, int type = 0, int proto = 0, int flags = 0);
    /// getnameinfo(3) on the executor: the host and service names of an IPv4/IPv6 address
    /// (NI_* `flags`). Throws std::invalid_argument for other families; fails like getaddrinfo.
    Future<NameInfo> getnameinfo(const SocketAddress& addr, int flags = 0);

    /// Transports of this loop not yet past connection_lost (for leak checks in tests).
    std::size_t transport_count() const noexcept;

    // --- extensions ------------------------------------------------------------------------
    /// The loop's instance of `T` (a LoopExtension), made with T(*this) on first use: per-loop
    /// state for layers on top of the loop, instead of side tables keyed by loop address. Lives
    /// as long as the loop: destroyed by ~EventLoop after close(), newest first. Loop thread only.
    template <class T>
    T& extension() {
        static_assert(std::is_base_of_v<LoopExtension, T>, "extension<T>: T must derive from LoopExtension");
        if (LoopExtension* e = find_extension(typeid(T))) return static_cast<T&>(*e);
        return static_cast<T&>(add_extension(typeid(T), std::make_unique<T>(*this)));
    }
    /// The extension stored under `key`, or nullptr.
    LoopExtension* find_extension(const std::type_info& key) const noexcept;
    /// Stores `ext` under `key` and returns it; throws std::invalid_argument if `key` is taken.
    LoopExtension& add_extension(const std::type_info& key, std::unique_ptr<LoopExtension> ext);

    // --- errors and debugging --------------------------------------------------------------
    /// An exception handler (asyncio's set_exception_handler signature).
    using ExceptionHandler = UniqueFunction<void(EventLoop&, const ExceptionContext&)>;
    /// Replaces the exception handler (an empty function restores the default).
    void set_exception_handler(ExceptionHandler handler);
    /// The handler set with set_exception_handler, shared (call it as (*h)(loop, context)), or
    /// null while the default handler is in use (asyncio's get_exception_handler).
    std::shared_ptr<ExceptionHandler> get_exception_handler() const;
    /// Reports `context` through the current handler (never throws).
    void call_exception_handler(const ExceptionContext& context) noexcept;
    /// The default handler: prints the message, the exception's text and the context to stderr.
    void default_exception_handler(const ExceptionContext& context) noexcept;
    /// Debug mode: wrong-thread calls throw InvalidStateError; slow callbacks, unawaited tasks are reported.
    void set_debug(bool enabled) noexcept;
    /// True in debug mode.
    bool get_debug() const noexcept;
    /// The debug-mode threshold for slow callbacks (default 100 ms).
    void set_slow_callback_duration(Duration d) noexcept;

    /// Internal: the implementation, for the library's own transports.
    detail::LoopImpl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<detail::LoopImpl> impl_;
};

/// The running loop of this thread; throws InvalidStateError when none runs
/// (asyncio.get_running_loop).
BULB_API EventLoop& get_running_loop();

}  // namespace bulb

#include <bulb/future.hpp>
#include <bulb/wrap_future.hpp>
