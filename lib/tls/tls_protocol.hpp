// SPDX-License-Identifier: MIT
/// @file
/// TlsProtocol: TLS as a protocol on a stream transport (asyncio's sslproto design). It drives a
/// TlsEngine with the ciphertext the raw transport delivers, and gives the application protocol
/// an app-side Transport (TlsTransport) with the same interface and flow control.
///
/// States: handshaking -> wrapped -> shutting_down -> closed (a failed handshake goes straight to
/// closed). The handshake and the wait for the peer's close_notify are bounded by timers.
#pragma once

#include <bulb/future.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>

#include "tls/tls_engine.hpp"

#include <optional>

namespace bulb::detail {

class TlsTransport;

/// Settings of one TLS connection.
struct TlsSettings {
    TlsContext context;
    bool server_side = false;
    std::string server_hostname;
    Duration handshake_timeout = std::chrono::seconds(60);
    Duration shutdown_timeout = std::chrono::seconds(30);
};

class TlsProtocol final : public Protocol {
public:
    /// `waiter` resolves with the app transport once the handshake is done (after the app
    /// protocol's connection_made when `call_connection_made`), or fails with the handshake error.
    TlsProtocol(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                std::optional<Future<Connection>> waiter, bool call_connection_made);
    ~TlsProtocol() override;

    /// start_tls: begins the handshake on an already connected transport, after feeding it the
    /// bytes the previous protocol had read past the upgrade point. `app_writing_paused`: the
    /// transport has paused the app protocol (its resume_writing now comes through this one).
    void start(Transport& raw, ByteView already_read, bool app_writing_paused = false);
    void set_app_protocol(std::unique_ptr<Protocol> app) { app_ = std::move(app); }

    // raw-transport side
    void connection_made(Transport& raw) override { start(raw, {}); }
    void data_received(ByteView data) override;
    bool eof_received() override;
    void connection_lost(std::error_code ec) override;
    void pause_writing() override;
    void resume_writing() override;

    // app-transport side (TlsTransport forwards here)
    void app_write(ByteView data);
    void app_close();
    void app_abort();
    void app_pause_reading();
    void app_resume_reading();
    bool app_reading() const noexcept { return !reading_paused_ && !closing_; }
    bool app_writing_paused() const noexcept { return app_writing_paused_; }
    bool closing() const noexcept { return closing_; }
    /// The handshake finished: the app has its transport (close() sends close_notify).
    bool wrapped() const noexcept { return state_ == State::wrapped || state_ == State::shutting_down; }
    std::size_t write_buffer_size() const noexcept;
    Transport& raw() const noexcept { return *raw_; }
    Protocol* app() const noexcept { return app_.get(); }
    std::unique_ptr<Protocol> swap_app(std::unique_ptr<Protocol> p) {
        std::swap(p, app_);
        return p;
    }
    std::optional<std::string> info(std::string_view name) const { return engine_->info(name); }
    std::size_t dropped_writes = 0;

private:
    enum class State { idle, handshaking, wrapped, shutting_down, closed };

    void do_handshake();
    void handshake_done();
    void process_incoming();
    void flush();
    void begin_shutdown();
    void fail(std::error_code ec) noexcept;
    void callback_failed(const char* what) noexcept;

    EventLoop& loop_;
    TlsSettings settings_;
    std::unique_ptr<TlsEngine> engine_;
    std::unique_ptr<Protocol> app_;
    RefPtr<TlsTransport> app_transport_;
    std::optional<Future<Connection>> waiter_;
    bool call_connection_made_;
    Transport* raw_ = nullptr;
    State state_ = State::idle;
    bool app_connected_ = false;  // connection_made delivered (or start_tls: the app was connected)
    bool closing_ = false;
    // The peer's close_notify came and the app's eof_received() kept the connection open: the
    // peer closed its write side only (TLS 1.3 half-close); we write until the app closes.
    bool peer_closed_ = false;
    bool reading_paused_ = false;
    // What ended process_incoming's last batch of records (close_notify, an error, no more
    // data): handled once the batch is delivered, or after the app resumes reading.
    std::optional<TlsEngine::Status> deferred_;
    bool app_writing_paused_ = false;
    std::string pending_;  // plaintext written during the handshake
    std::error_code lost_error_;
    TimerHandle timer_;    // handshake or shutdown deadline
};

/// True when `t` has paused its protocol's writing (pause_writing delivered, resume_writing not yet).
bool writing_paused(const Transport& t) noexcept;

/// Wraps `app` in TLS for a new connection (client or server side).
std::unique_ptr<Protocol> wrap_tls(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                                   std::optional<Future<Connection>> waiter);

}  // namespace bulb::detail
