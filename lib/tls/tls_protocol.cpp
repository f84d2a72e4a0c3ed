// SPDX-License-Identifier: MIT
/// @file
/// wrap_tls and EventLoop::start_tls: a TlsTransport put on a raw stream transport.
#include "tls/tls_protocol.hpp"

#include "loop/loop_impl.hpp"
#include "tls/tls_transport.hpp"

#include <bulb/loop.hpp>
#include <bulb/options.hpp>

#include <utility>

namespace bulb::detail {

TlsWrapping wrap_tls(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                     std::optional<Future<Connection>> waiter) {
    RefPtr<TlsTransport> tls(new TlsTransport(loop, std::move(settings), std::move(app), std::move(waiter), true));
    auto raw_protocol = std::make_unique<TlsProtocol>(tls);
    return {std::move(tls), std::move(raw_protocol)};
}

}  // namespace bulb::detail

namespace bulb {

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side) {
    return start_tls(std::move(transport), tls, server_side, std::string(), std::string());
}

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                               std::string server_hostname) {
    return start_tls(std::move(transport), tls, server_side, std::move(server_hostname), std::string());
}

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                               std::string server_hostname, std::string already_read) {
    StartTlsOptions options;
    options.server_side = server_side;
    options.server_hostname = std::move(server_hostname);
    options.already_read = std::move(already_read);
    return start_tls(std::move(transport), tls, options);
}

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls,
                                               const StartTlsOptions& options) {
    impl_->check_thread("start_tls");
    const bool server_side = options.server_side;
    std::string server_hostname = options.server_hostname;
    if (!transport || transport->is_closing()) throw InvalidStateError("start_tls: the transport is closing");
    if (tls.is_server() != server_side) throw std::invalid_argument("start_tls: context and server_side disagree");
    if (server_hostname.empty() && tls.requires_hostname())
        throw std::invalid_argument("start_tls: You must set server_hostname when using TLS without a host "
                                    "(or make the client TlsContext with verify_hostname = false)");
    Future<RefPtr<Transport>> result(*this);
    Future<Connection> handshake(*this);
    handshake.add_done_callback([result](Future<Connection>& f) mutable {
        if (f.cancelled()) {  // start_tls's future was cancelled (below): finish it the same way
            std::string message;
            try {
                f.result();
            } catch (const CancelledError& c) {
                message = c.what();
            }
            result.set_canceller({});
            result.cancel(std::move(message));
            return;
        }
        // Retrieved even when nobody waits any more, or the loop reports it as never retrieved.
        auto e = f.exception();
        if (result.done()) return;
        if (e)
            result.set_exception(e);
        else
            result.set_result(f.result().transport);
    });
    // Cancelling start_tls abandons the handshake, as cancelling create_connection does: the
    // TLS layer aborts the connection (asyncio closes the transport) and `handshake` ends
    // cancelled, which cancels `result` from the callback above. The canceller holds
    // `handshake` until `result` finishes, which always follows the handshake's end.
    result.set_canceller([handshake](std::string message) mutable { return handshake.cancel(std::move(message)); });
    RefPtr<detail::TlsTransport> tls_transport(
        new detail::TlsTransport(*this,
                                 detail::TlsSettings{tls, server_side, std::move(server_hostname),
                                                     options.tls_handshake_timeout, options.tls_shutdown_timeout},
                                 nullptr, handshake, /*call_connection_made=*/false));
    // Writes the old protocol made may still fill the transport's buffer past high water (they
    // go out before the client hello: the hello is queued behind them). The protocol was then
    // told pause_writing, and the transport's resume_writing now reaches the TLS layer: it must
    // pass it on, or the app protocol waits for it for ever (asyncio: cpython #109051).
    const bool app_writing_paused = transport->is_writing_paused();
    tls_transport->set_app_protocol(transport->set_protocol(std::make_unique<detail::TlsProtocol>(tls_transport)));
    transport->resume_reading();
    tls_transport->start(*transport, as_bytes(options.already_read), app_writing_paused);
    return result;
}

}  // namespace bulb
