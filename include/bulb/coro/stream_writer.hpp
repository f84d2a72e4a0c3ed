// SPDX-License-Identifier: MIT
/// @file
/// StreamWriter: writing to a connection with coroutine backpressure (asyncio.StreamWriter).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task.hpp>
#include <bulb/ref.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>

#include <concepts>
#include <initializer_list>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace bulb {

namespace detail {
class StreamCore;
class WriterHandle;

/// An element writelines() takes: text or bytes.
template <class L>
concept WritableLine = std::convertible_to<L, std::string_view> || std::convertible_to<L, ByteView>;

template <class L>
ByteView line_bytes(const L& line) noexcept {
    if constexpr (std::convertible_to<const L&, std::string_view>)
        return as_bytes(std::string_view(line));
    else
        return ByteView(line);
}
}  // namespace detail

/// The writing half of a stream connection, made by open_connection() / start_server().
///
/// A counted handle; loop thread only. When the last StreamWriter handle goes away while the
/// connection is open, the connection is closed (its buffered data still goes out).
class BULB_API StreamWriter {
public:
    /// Internal: made by open_connection, start_server and friends.
    explicit StreamWriter(RefPtr<detail::StreamCore> core);
    /// Copies share one stream.
    StreamWriter(const StreamWriter&) noexcept;
    /// Copies share one stream.
    StreamWriter& operator=(const StreamWriter&) noexcept;
    ~StreamWriter();

    /// Queues `data` on the transport (never blocks); follow with drain() to respect flow control.
    void write(std::string_view data);
    /// The same, for bytes.
    void write(ByteView data);
    /// Queues several buffers, gathered into one system call where possible.
    void writelines(std::initializer_list<std::string_view> lines);
    /// writelines() over any input range whose elements convert to std::string_view or ByteView
    /// (a vector, a list, a view; asyncio takes any iterable). Elements the range yields by
    /// value (a transform producing strings) are joined into one buffer first; elements it
    /// yields by reference are gathered without a copy. Throws as write().
    template <std::ranges::input_range R>
        requires detail::WritableLine<std::ranges::range_reference_t<R>>
    void writelines(R&& lines);
    /// Waits until the transport's buffer is at its low-water mark (returns at once when below
    /// high water). Any number of tasks may wait at once. Throws the connection's error (or
    /// bulb::Error with errc::transport_closed) once the connection is lost.
    /// Cancel safety: nothing is lost; the written data stays queued.
    Task<void> drain();
    /// Half-closes (sends FIN after the buffered data).
    void write_eof();
    /// True for TCP and Unix sockets.
    bool can_write_eof() const noexcept;
    /// Closes the connection after sending the buffered data.
    void close();
    /// True once closing.
    bool is_closing() const noexcept;
    /// Waits until the connection is gone; throws its error if it failed.
    /// Cancel safety: cancelling only stops waiting.
    Task<void> wait_closed();
    /// Upgrades the connection to TLS (STARTTLS): bytes the reader had buffered past the upgrade
    /// point go to the TLS engine, then reader and writer carry the TLS stream. A server context
    /// makes this the server side; a client context checks the certificate against
    /// `server_hostname` (required unless the context has verify_hostname = false). Throws the
    /// handshake error (the connection is then aborted). No defaulted argument: see streams.hpp.
    Task<void> start_tls(TlsContext tls, std::string server_hostname);
    /// The same without a host name: server contexts, and client contexts that do not check it.
    Task<void> start_tls(TlsContext tls);
    /// Transport::get_extra_info.
    std::optional<std::string> get_extra_info(std::string_view name) const;
    /// The underlying transport.
    Transport& transport() const noexcept;

private:
    RefPtr<detail::StreamCore> core_;
    RefPtr<detail::WriterHandle> handle_;
};

template <std::ranges::input_range R>
    requires detail::WritableLine<std::ranges::range_reference_t<R>>
void StreamWriter::writelines(R&& lines) {
    using Ref = std::ranges::range_reference_t<R>;
    using Elem = std::remove_cvref_t<Ref>;
    // A view element (string_view, ByteView, const char*) or a reference stays valid after the
    // loop step; an owning element made on the fly (a std::string prvalue) would not.
    constexpr bool borrowed = std::is_lvalue_reference_v<Ref> || std::is_same_v<Elem, std::string_view> ||
                              std::is_same_v<Elem, ByteView> || std::is_pointer_v<Elem>;
    if constexpr (borrowed) {
        std::vector<ByteView> views;
        if constexpr (std::ranges::sized_range<R>) views.reserve(std::ranges::size(lines));
        for (auto&& line : lines) views.push_back(detail::line_bytes(line));
        transport().writelines(views);
    } else {
        std::string joined;
        for (auto&& line : lines) {
            ByteView b = detail::line_bytes(line);
            joined.append(reinterpret_cast<const char*>(b.data()), b.size());
        }
        write(std::string_view(joined));
    }
}

}  // namespace bulb
