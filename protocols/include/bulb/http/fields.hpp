// SPDX-License-Identifier: MIT
/// @file
/// http::Fields: header (or trailer) fields as received, views into one owned copy of the bytes.
#pragma once

#include <bulb/config.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulb::http {

/// ASCII case-insensitive equality (field names, tokens such as "chunked" or "close").
BULB_API bool iequals(std::string_view a, std::string_view b) noexcept;

/// True when the comma-separated list `list` has an element equal (case-insensitively) to `token`
/// ("keep-alive, Upgrade" has "upgrade"). Elements are trimmed of spaces and tabs.
BULB_API bool list_has_token(std::string_view list, std::string_view token) noexcept;

/// Fields in the order received. Names and values are views into storage the Fields object
/// owns: valid while it lives (moving it keeps them valid). Values have their leading and
/// trailing whitespace removed, as RFC 9110 5.5 says. Not thread-safe.
class BULB_API Fields {
public:
    /// Number of field lines.
    std::size_t size() const noexcept { return refs_.size(); }
    /// True when there is no field line.
    bool empty() const noexcept { return refs_.empty(); }
    /// The name of field line `i`.
    std::string_view name(std::size_t i) const noexcept { return view(refs_[i].name_at, refs_[i].name_size); }
    /// The value of field line `i`.
    std::string_view value(std::size_t i) const noexcept { return view(refs_[i].value_at, refs_[i].value_size); }
    /// The first value of the field `name` (case-insensitive), or std::nullopt.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// How many lines carry the field `name`.
    std::size_t count(std::string_view name) const noexcept;
    /// True when some line of `name` has `token` in its comma-separated list.
    bool has_token(std::string_view name, std::string_view token) const noexcept;

    /// The bytes the views point into (the whole message head for headers).
    const std::string& storage() const noexcept { return storage_; }

    /// Parser side: takes the bytes, then add()s offsets into them.
    void assign_storage(std::string bytes) { storage_ = std::move(bytes); refs_.clear(); }
    /// Parser side: a field line at these offsets of storage().
    void add(std::size_t name_at, std::size_t name_size, std::size_t value_at, std::size_t value_size) {
        refs_.push_back({static_cast<std::uint32_t>(name_at), static_cast<std::uint32_t>(name_size),
                         static_cast<std::uint32_t>(value_at), static_cast<std::uint32_t>(value_size)});
    }
    /// A view of storage at [at, at + size) (the request line's parts use it too).
    std::string_view view(std::size_t at, std::size_t size) const noexcept {
        return std::string_view(storage_).substr(at, size);
    }

private:
    struct Ref {
        std::uint32_t name_at, name_size, value_at, value_size;
    };
    std::string storage_;
    std::vector<Ref> refs_;
};

}  // namespace bulb::http
