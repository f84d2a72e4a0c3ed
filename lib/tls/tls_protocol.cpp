// SPDX-License-Identifier: MIT
/// @file
/// wrap_tls and EventLoop::start_tls: a TlsTransport put on a raw stream transport.
#include "tls/tls_protocol.hpp"

#include <bulb/loop.hpp>

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

Future<RefPtr<Transport>> EventLoop::start_tls(RefPtr<Transport> transport, const TlsContext& tls, bool server_side,
                                               std::string server_hostname, std::string already_read) {
    if (!transport || transport->is_closing()) throw InvalidStateError("start_tls: the transport is closing");
    if (tls.is_server() != server_side) throw std::invalid_argument("start_tls: context and server_side disagree");
    Future<RefPtr<Transport>> result(*this);
    Future<Connection> handshake(*this);
    handshake.add_done_callback([result](Future<Connection>& f) mutable {
        if (result.done()) return;
        if (auto e = f.exception())
            result.set_exception(e);
        else
            result.set_result(f.result().transport);
    });
    RefPtr<detail::TlsTransport> tls_transport(
        new detail::TlsTransport(*this, detail::TlsSettings{tls, server_side, std::move(server_hostname)}, nullptr,
                                 handshake, /*call_connection_made=*/false));
    // Writes the old protocol made may still fill the transport's buffer past high water (they
    // go out before the client hello: the hello is queued behind them). The protocol was then
    // told pause_writing, and the transport's resume_writing now reaches the TLS layer: it must
    // pass it on, or the app protocol waits for it for ever (asyncio: cpython #109051).
    const bool app_writing_paused = transport->is_writing_paused();
    tls_transport->set_app_protocol(transport->set_protocol(std::make_unique<detail::TlsProtocol>(tls_transport)));
    transport->resume_reading();
    tls_transport->start(*transport, as_bytes(already_read), app_writing_paused);
    return result;
}

}  // namespace bulb
