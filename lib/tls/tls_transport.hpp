// SPDX-License-Identifier: MIT
/// @file
/// TlsTransport: the application's side of a TLS connection; forwards to its TlsProtocol and
/// becomes inert once the connection is lost.
#pragma once

#include "tls/tls_protocol.hpp"

namespace bulb::detail {

class TlsTransport final : public Transport {
public:
    TlsTransport(TlsProtocol* protocol, Transport& raw) : proto_(protocol), raw_(&raw) {}

    /// The protocol is going away: from now on the transport is inert.
    void detach() noexcept { proto_ = nullptr; }

    void write(ByteView data) override {
        if (proto_)
            proto_->app_write(data);
        else
            ++dropped_after_;
    }
    using Transport::write;
    void writelines(std::span<const ByteView> buffers) override {
        for (auto b : buffers) write(b);
    }
    using Transport::writelines;
    void write_eof() override { throw InvalidStateError("write_eof() is not supported on TLS transports"); }
    bool can_write_eof() const noexcept override { return false; }
    std::size_t get_dropped_writes() const noexcept override {
        return dropped_after_ + (proto_ ? proto_->dropped_writes : 0);
    }
    void close() override {
        if (proto_) proto_->app_close();
    }
    void abort() override {
        if (proto_) proto_->app_abort();
    }
    bool is_closing() const noexcept override { return !proto_ || proto_->closing(); }
    void pause_reading() override {
        if (proto_) proto_->app_pause_reading();
    }
    void resume_reading() override {
        if (proto_) proto_->app_resume_reading();
    }
    bool is_reading() const noexcept override { return proto_ && proto_->app_reading(); }
    bool writing_paused() const noexcept { return proto_ && proto_->app_writing_paused(); }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override {
        raw_->set_write_buffer_limits(high, low);
    }
    WriteBufferLimits get_write_buffer_limits() const noexcept override { return raw_->get_write_buffer_limits(); }
    std::size_t get_write_buffer_size() const noexcept override { return proto_ ? proto_->write_buffer_size() : 0; }
    SocketAddress get_peername() const override { return raw_->get_peername(); }
    SocketAddress get_sockname() const override { return raw_->get_sockname(); }
    int get_fd() const noexcept override { return raw_->get_fd(); }
    std::optional<std::string> get_extra_info(std::string_view name) const override {
        if (proto_)
            if (auto v = proto_->info(name)) return v;
        return Transport::get_extra_info(name);
    }
    EventLoop& get_loop() const noexcept override { return raw_->get_loop(); }
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) override {
        if (!protocol) throw std::invalid_argument("set_protocol: null protocol");
        if (!proto_) return protocol;
        return proto_->swap_app(std::move(protocol));
    }
    Protocol* get_protocol() const noexcept override { return proto_ ? proto_->app() : nullptr; }

private:
    TlsProtocol* proto_;
    TransportPtr raw_;  // keeps the raw transport object (inert once lost) for information calls
    std::size_t dropped_after_ = 0;
};

}  // namespace bulb::detail
