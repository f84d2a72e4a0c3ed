// SPDX-License-Identifier: MIT
/// @file
/// Outcome<T>: a value or the exception that took its place (one child's entry in the result of
/// gather(return_exceptions, ...), asyncio's gather(..., return_exceptions=True)).
#pragma once

#include <bulb/error.hpp>

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace bulb {

/// What one operation produced: a T (std::monostate for void) or an exception (CancelledError
/// included). A plain value type: copy or move it freely, on any thread if T allows.
template <class T>
class Outcome {
public:
    /// The result type (std::monostate for void).
    using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

    /// A successful outcome.
    explicit Outcome(value_type v) : v_(std::in_place_index<0>, std::move(v)) {}
    /// A failed outcome; `e` must not be null.
    explicit Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}

    /// True when it holds a value.
    bool has_value() const noexcept { return v_.index() == 0; }
    /// True when it holds an exception.
    bool has_exception() const noexcept { return v_.index() == 1; }
    /// True when the exception is a CancelledError.
    bool cancelled() const noexcept { return holds<CancelledError>(); }
    /// The value; rethrows the exception when there is one.
    value_type& value() & {
        if (has_exception()) std::rethrow_exception(std::get<1>(v_));
        return std::get<0>(v_);
    }
    /// value() moved out of an rvalue Outcome.
    value_type&& value() && { return std::move(value()); }
    /// The exception, or nullptr for a value.
    std::exception_ptr exception() const noexcept { return has_exception() ? std::get<1>(v_) : nullptr; }
    /// True when the exception is an E (or derived from it): `except E` on this one outcome.
    template <class E>
    bool holds() const noexcept {
        if (!has_exception()) return false;
        try {
            std::rethrow_exception(std::get<1>(v_));
        } catch (const E&) {
            return true;
        } catch (...) {
            return false;
        }
    }

private:
    std::variant<value_type, std::exception_ptr> v_;
};

}  // namespace bulb
