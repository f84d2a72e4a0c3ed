// SPDX-License-Identifier: MIT
/// @file
/// TlsProtocol: the protocol a TLS connection installs on its raw stream transport. It only
/// forwards the raw transport's events to the TlsTransport (tls_transport.hpp), which it holds
/// by a counted handle; the TLS state machine lives there.
#pragma once

#include "tls/tls_transport.hpp"

namespace bulb::detail {

class TlsProtocol final : public Protocol {
public:
    explicit TlsProtocol(RefPtr<TlsTransport> tls) : tls_(std::move(tls)) {}

    void connection_made(Transport& raw) override { tls_->start(raw, {}); }
    void data_received(ByteView data) override { tls_->raw_data_received(data); }
    bool eof_received() override { return tls_->raw_eof_received(); }
    void connection_lost(std::error_code ec) override { tls_->raw_connection_lost(ec); }
    void pause_writing() override { tls_->raw_pause_writing(); }
    void resume_writing() override { tls_->raw_resume_writing(); }

private:
    RefPtr<TlsTransport> tls_;
};

/// A TLS connection for `app` (client or server side): the TLS transport the app will see and
/// the protocol to install on the raw transport.
struct TlsWrapping {
    RefPtr<TlsTransport> transport;
    std::unique_ptr<Protocol> raw_protocol;
};
TlsWrapping wrap_tls(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                     std::optional<Future<Connection>> waiter);

}  // namespace bulb::detail
