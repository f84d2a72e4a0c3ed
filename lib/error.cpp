// SPDX-License-Identifier: MIT
/// @file
/// bulb::error_category() and exception descriptions.
#include <bulb/error.hpp>

namespace bulb {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "bulb"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::cancelled: return "operation cancelled";
            case errc::timed_out: return "operation timed out";
            case errc::invalid_state: return "invalid state";
            case errc::transport_closed: return "transport is closed";
            case errc::incomplete_read: return "incomplete read";
            case errc::limit_overrun: return "limit overrun";
            case errc::tls_handshake_failed: return "TLS handshake failed";
            case errc::protocol_callback_failed: return "protocol callback threw an exception";
            case errc::loop_closed: return "event loop is closed";
            case errc::tls_unexpected_eof: return "TLS peer closed the connection without close_notify";
            case errc::tls_shutdown_timed_out: return "TLS shutdown timed out waiting for the peer";
            case errc::broken_barrier: return "barrier is broken";
            case errc::queue_empty: return "queue is empty";
            case errc::queue_full: return "queue is full";
            case errc::queue_shut_down: return "queue is shut down";
            case errc::datagram_truncated: return "datagram larger than the receive buffer (truncated, not delivered)";
            case errc::sendfile_not_available: return "sendfile(2) is not available for this transport (fallback disabled)";
        }
        return "unknown bulb error " + std::to_string(ev);
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

std::string describe_exception(const std::exception_ptr& e) {
    if (!e) return "no exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (const CancelledError& ex) {
        return std::string("CancelledError: ") + ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace bulb
