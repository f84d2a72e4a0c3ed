// SPDX-License-Identifier: MIT
/// @file
/// ByteView: the read-only byte span transports deliver and accept, and conversions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace bulb {

/// A read-only view of bytes; valid only as long as the memory it views.
using ByteView = std::span<const std::byte>;
/// A writable view of bytes (BufferedProtocol::get_buffer).
using MutableByteView = std::span<std::byte>;

/// Views the characters of `s` as bytes.
inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Views bytes as characters.
inline std::string_view as_string_view(ByteView b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Copies bytes into a std::string.
inline std::string to_string(ByteView b) { return std::string(as_string_view(b)); }

}  // namespace bulb
