// SPDX-License-Identifier: MIT
/// @file
/// The Codec concept: framing written once, used by FramedProtocol (callbacks) and
/// FramedReader / FramedWriter (coroutines) alike (Tokio's Decoder / Encoder).
///
/// A codec is pure: no transport, no loop, no clock. It turns bytes into frames and frames into
/// bytes, and can be tested byte by byte:
///
///     FrameBuffer in;  in.append("3:abc,");
///     NetstringCodec c;
///     std::optional<std::string> f = c.decode(in);   // "abc"; `in` is empty again
///
/// The contract:
/// - `decode(buffer)` returns the next complete frame and consumes exactly its bytes, or returns
///   std::nullopt (consuming nothing, or only bytes it has skipped for good) when more bytes are
///   needed. It throws FrameError for input that can never be a frame or passes a limit.
/// - `decode_eof(buffer)` is called at end of stream after decode() returned nullopt: it returns
///   a last frame made of the tail (lines without a final newline), nullopt when nothing is left,
///   or throws FrameError (Kind::truncated) when bytes of an unfinished frame remain.
/// - `encode(frame, out)` appends the frame's bytes to `out`.
/// - Limits are explicit options of each codec (max frame size, depth, ...); passing one throws
///   FrameError(Kind::limit_exceeded) whose message names the option and its value.
/// - Optionally, `buffer_limit()` -> std::size_t: the most bytes decode() can need buffered
///   before it returns a frame or throws (0: unbounded). The adapters then grow their buffer
///   toward it without a doubling copy and never append far past it (a line past its limit is
///   rejected before it is buffered twice over).
/// - A codec may keep state between calls (scan positions, discard mode) on the assumption that
///   only it consumes from the buffer it is given.
#pragma once

#include <bulb/protocols/frame_buffer.hpp>
#include <bulb/protocols/frame_error.hpp>

#include <concepts>
#include <optional>
#include <string>

namespace bulb::protocols {

/// Turns bytes into frames of type C::Frame (see the contract above).
template <class C>
concept Decoder = requires(C& c, FrameBuffer& buffer) {
    typename C::Frame;
    { c.decode(buffer) } -> std::same_as<std::optional<typename C::Frame>>;
    { c.decode_eof(buffer) } -> std::same_as<std::optional<typename C::Frame>>;
};

/// Appends the bytes of a frame of type F to a std::string.
template <class C, class F>
concept Encoder = requires(C& c, const F& frame, std::string& out) { c.encode(frame, out); };

/// Codecs that declare buffer_limit() (see the contract above).
template <class C>
concept BufferLimited = requires(const C& c) {
    { c.buffer_limit() } -> std::convertible_to<std::size_t>;
};

/// buffer_limit() of a codec that declares one, else 0 (no limit).
template <class C>
std::size_t codec_buffer_limit(const C& codec) noexcept {
    if constexpr (BufferLimited<C>) {
        return codec.buffer_limit();
    } else {
        return 0;
    }
}

/// Both directions over one frame type: what the framed adapters take.
template <class C>
concept Codec = Decoder<C> && Encoder<C, typename C::Frame>;

}  // namespace bulb::protocols
