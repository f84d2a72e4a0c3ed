// SPDX-License-Identifier: MIT
/// @file
/// Error codes and exception types.
///
/// The one rule, for every public entry point:
/// - Misuse (a wrong argument, or a call the object's state does not allow) throws at once:
///   std::invalid_argument for an argument, bulb::InvalidStateError for a state (closed loop,
///   wrong thread, bulb::run() inside a running loop).
/// - Everything else -- OS, resolution, TLS, timeout, a lost connection -- is a bulb::Error (a
///   std::system_error) whose code() says what failed: OS errors keep std::system_category(),
///   TLS errors tls_category(), the library's own conditions bulb::error_category(). So
///   `catch (const bulb::Error&)` sees every failure that is not a bug in the caller.
/// - CancelledError alone is not a std::exception (see below).
/// The callback layer reports I/O failures as std::error_code (in connection_lost and
/// error_received); futures and coroutines throw them as bulb::Error.
#pragma once

#include <bulb/config.hpp>

#include <stdexcept>
#include <string>
#include <system_error>

namespace bulb {

/// The library's own conditions, in bulb::error_category().
enum class errc {
    cancelled = 1,
    timed_out,
    invalid_state,
    transport_closed,
    incomplete_read,
    limit_overrun,
    tls_handshake_failed,
    protocol_callback_failed,
    loop_closed,
    tls_unexpected_eof,
    tls_shutdown_timed_out,
    broken_barrier,   ///< BrokenBarrierError (coro/barrier.hpp)
    queue_empty,      ///< QueueEmpty (coro/queue.hpp)
    queue_full,       ///< QueueFull (coro/queue.hpp)
    queue_shut_down,  ///< QueueShutDown (coro/queue.hpp)
    datagram_truncated,  ///< an inbound datagram was larger than the receive buffer (not delivered)
    sendfile_not_available,  ///< Transport::sendfile with fallback=false on a transport without sendfile(2)
};

}  // namespace bulb

/// @cond
template <>
struct std::is_error_code_enum<bulb::errc> : std::true_type {};
/// @endcond

namespace bulb {

/// The category of bulb::errc; name() is "bulb".
BULB_API const std::error_category& error_category() noexcept;

/// Makes an error_code in bulb::error_category() (found by ADL).
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// Base of bulb's exceptions: a std::system_error, so the error code survives.
class BULB_API Error : public std::system_error {
public:
    using std::system_error::system_error;
    /// An error with bulb's code `e` (error_category()) and, optionally, a message saying what
    /// failed.
    ///@{
    explicit Error(errc e) : std::system_error(make_error_code(e)) {}
    Error(errc e, const std::string& what) : std::system_error(make_error_code(e), what) {}
    Error(errc e, const char* what) : std::system_error(make_error_code(e), what) {}
    ///@}
};

/// An operation was called in a state that does not allow it (asyncio.InvalidStateError),
/// e.g. result() on a pending future or run_forever() on a running loop.
class BULB_API InvalidStateError : public Error {
public:
    /// `what` says which operation and which state.
    explicit InvalidStateError(const std::string& what) : Error(errc::invalid_state, what) {}
};

/// A deadline passed (wait_for, timeout scopes); the work inside was cancelled.
class BULB_API TimeoutError : public Error {
public:
    /// A timeout, optionally with a message saying what timed out.
    ///@{
    TimeoutError() : Error(errc::timed_out) {}
    explicit TimeoutError(const std::string& what) : Error(errc::timed_out, what) {}
    ///@}
};

/// Thrown into a cancelled task at its suspension point, and by result() of a cancelled future.
///
/// Deliberately not derived from std::exception (asyncio made CancelledError a BaseException for
/// the same reason): `catch (const std::exception&)` must not swallow cancellation. Catch it by
/// name, or with `catch (...)` and rethrow.
class BULB_API CancelledError {
public:
    /// A cancellation, with the message given to cancel(msg) if any.
    ///@{
    CancelledError() = default;
    explicit CancelledError(std::string msg) : msg_(std::move(msg)) {}
    ///@}
    /// The message given to cancel(), or "cancelled".
    const char* what() const noexcept { return msg_.empty() ? "cancelled" : msg_.c_str(); }
    /// Always errc::cancelled.
    std::error_code code() const noexcept { return make_error_code(errc::cancelled); }

private:
    std::string msg_;
};

/// Text of an exception_ptr for reports: what() where there is one.
BULB_API std::string describe_exception(const std::exception_ptr& e);

}  // namespace bulb
