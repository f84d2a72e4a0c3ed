// SPDX-License-Identifier: MIT
/// @file
/// TlsTransport: one TLS connection over a stream transport (asyncio 3.11's sslproto shape). It
/// is the application's Transport and holds the TLS state machine; the raw transport reaches it
/// through TlsProtocol (tls_protocol.hpp), which holds it by a counted handle. Nothing here
/// points back at TlsProtocol, so nothing is cleared by hand when the connection goes.
///
/// Two states, each moved only by set_state()/set_app_state(), which reject illegal moves:
/// - the TLS layer: unwrapped -> handshaking -> wrapped -> shutting_down -> closed (any state may
///   go to closed: a failed handshake, an abort, the connection lost);
/// - the app protocol: init -> connected -> eof (the peer's close_notify, the app kept its side
///   open) -> lost (connection_lost delivered); connected or init may go straight to lost.
/// The handshake and the wait for the peer's close_notify are bounded by timers.
#pragma once

#include <bulb/future.hpp>
#include <bulb/handle.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>

#include "tls/tls_engine.hpp"

#include <optional>
#include <string>

namespace bulb::detail {

/// Settings of one TLS connection.
struct TlsSettings {
    TlsContext context;
    bool server_side = false;
    std::string server_hostname;
    Duration handshake_timeout = std::chrono::seconds(60);
    Duration shutdown_timeout = std::chrono::seconds(30);
};

class TlsTransport final : public Transport {
public:
    /// The TLS layer (asyncio's SSLProtocolState).
    enum class State { unwrapped, handshaking, wrapped, shutting_down, closed };
    /// What the app protocol has been told (asyncio's AppProtocolState).
    enum class AppState { init, connected, eof, lost };

    /// True when the TLS layer may move from `from` to `to`.
    static bool legal(State from, State to) noexcept;
    /// True when the app protocol's state may move from `from` to `to`.
    static bool legal(AppState from, AppState to) noexcept;

    /// `waiter` resolves with this transport once the handshake is done (after the app
    /// protocol's connection_made when `call_connection_made`), or fails with the handshake
    /// error. Without `call_connection_made` (start_tls) the app protocol is already connected.
    TlsTransport(EventLoop& loop, TlsSettings settings, std::unique_ptr<Protocol> app,
                 std::optional<Future<Connection>> waiter, bool call_connection_made);
    ~TlsTransport() override;

    /// Begins the handshake on the connected `raw`, after feeding it the bytes the previous
    /// protocol read past the upgrade point (start_tls). `app_writing_paused`: `raw` has paused
    /// the app protocol, whose resume_writing now comes through the TLS layer.
    void start(Transport& raw, ByteView already_read, bool app_writing_paused = false);
    void set_app_protocol(std::unique_ptr<Protocol> app) { app_ = std::move(app); }

    // --- the raw transport's events (TlsProtocol forwards them) ----------------------------
    void raw_data_received(ByteView data);
    bool raw_eof_received();
    void raw_connection_lost(std::error_code ec);
    void raw_pause_writing();
    void raw_resume_writing();

    /// The handshake finished: close() sends close_notify (a server closing its clients).
    bool wrapped() const noexcept { return state_ == State::wrapped || state_ == State::shutting_down; }
    State state() const noexcept { return state_; }
    AppState app_state() const noexcept { return app_state_; }

    // --- Transport ----------------------------------------------------------------------------
    void write(ByteView data) override;
    using Transport::write;
    void writelines(std::span<const ByteView> buffers) override {
        for (auto b : buffers) write(b);
    }
    using Transport::writelines;
    void write_eof() override { throw InvalidStateError("write_eof() is not supported on TLS transports"); }
    bool can_write_eof() const noexcept override { return false; }
    std::size_t get_dropped_writes() const noexcept override { return dropped_writes_; }
    void close() override;
    void abort() override;
    bool is_closing() const noexcept override { return closing_ || app_state_ == AppState::lost; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return !reading_paused_ && !is_closing(); }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;
    WriteBufferLimits get_write_buffer_limits() const noexcept override;
    std::size_t get_write_buffer_size() const noexcept override;
    bool is_writing_paused() const noexcept override { return app_writing_paused_; }
    SocketAddress get_peername() const override;
    SocketAddress get_sockname() const override;
    int get_fd() const noexcept override;
    std::optional<std::string> get_extra_info(std::string_view name) const override;
    std::optional<ExtraInfo> get_extra_info_value(std::string_view name) const override;
    using Transport::get_extra_info;
    EventLoop& get_loop() const noexcept override { return loop_; }
    const char* kind() const noexcept override { return "TlsTransport"; }
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) override;
    Protocol* get_protocol() const noexcept override { return app_.get(); }

private:
    void set_state(State to);
    void set_app_state(AppState to);

    // handshake
    void do_handshake();
    void handshake_done();
    void resolve_waiter() noexcept;
    // incoming records, in the order process_incoming() takes its steps
    void process_incoming();
    bool app_buffer(BufferedProtocol* buffered, MutableByteView& out);
    TlsEngine::Status read_records(MutableByteView out, std::size_t& n);
    bool deliver(BufferedProtocol* buffered, MutableByteView out, std::size_t n);
    void on_close_notify();
    // outgoing
    void flush();
    // closing
    void begin_shutdown();
    void fail(std::error_code ec) noexcept;
    template <class Call>
    bool call_app(const char* callback, Call&& fn) noexcept;

    EventLoop& loop_;
    TlsSettings settings_;
    std::unique_ptr<TlsEngine> engine_;
    std::unique_ptr<Protocol> app_;
    std::optional<Future<Connection>> waiter_;
    TransportPtr raw_;  // counted: information calls still work (inert) once the connection is lost
    State state_ = State::unwrapped;
    AppState app_state_;
    const bool call_connection_made_;
    bool closing_ = false;  // close() or abort() called, or the connection failed
    bool reading_paused_ = false;
    bool app_writing_paused_ = false;
    // What ended process_incoming's last batch of records (close_notify, an error): handled
    // once the batch is delivered, or after the app resumes reading.
    std::optional<TlsEngine::Status> deferred_;
    std::string pending_;  // plaintext written during the handshake
    std::size_t dropped_writes_ = 0;
    std::error_code lost_error_;
    std::string lost_detail_;  // what the engine adds to a failed handshake (names it checked)
    std::string peer_;         // "127.0.0.1:443": failure messages name the peer
    TimerHandle timer_;  // handshake or shutdown deadline; cancelled by the destructor
};

}  // namespace bulb::detail
