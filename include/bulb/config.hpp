// SPDX-License-Identifier: MIT
/// @file
/// Build-wide configuration: the export macro and the library version.
#pragma once

/// Marks a symbol as part of libbulb's public ABI (the library is built with hidden visibility).
#define BULB_API __attribute__((visibility("default")))

namespace bulb {

/// Library version; the SONAME carries version_major.
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;

}  // namespace bulb
