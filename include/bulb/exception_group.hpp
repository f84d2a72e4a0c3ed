// SPDX-License-Identifier: MIT
/// @file
/// ExceptionGroup: several exceptions raised together (Python's ExceptionGroup, PEP 654), as
/// TaskGroup::wait() and gather() throw when children failed, with `except*`-style helpers to test
/// for a kind, on a group or on any exception_ptr (holds_exception / find_exception).
#pragma once

#include <bulb/config.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace bulb {

/// A list of exceptions thrown as one. A plain value (copyable); thread-agnostic.
///
/// C++ has no `except*`: contains<E>() tests for a kind, find<E>() gives the first one, split<E>()
/// separates the matching ones from the rest, each looking into nested groups as PEP 654 does.
class BULB_API ExceptionGroup : public std::exception {
public:
    /// `message` plus `exceptions` (none of them null); what() is "message (N sub-exceptions)".
    ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
        : message_(std::move(message)), exceptions_(std::move(exceptions)) {
        what_ = message_ + " (" + std::to_string(exceptions_.size()) +
                (exceptions_.size() == 1 ? " sub-exception)" : " sub-exceptions)");
    }
    /// The message with the count of sub-exceptions.
    const char* what() const noexcept override { return what_.c_str(); }
    /// The message alone (Python's .message).
    const std::string& message() const noexcept { return message_; }
    /// The exceptions, in the order they happened (Python's .exceptions).
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

    /// True when some exception of the group (nested groups included) is an E.
    template <class E>
    bool contains() const noexcept {
        return find<E>() != nullptr;
    }
    /// The first E of the group, depth first, or nullptr. Points into the stored exception: valid
    /// while the group (or any copy of the exception_ptr) lives.
    template <class E>
    const E* find() const noexcept {
        for (const auto& e : exceptions_)
            if (const E* hit = find_in<E>(e)) return hit;
        return nullptr;
    }
    /// The first E in `e` itself or, when `e` is a group, inside it (depth first); nullptr for
    /// none or a null `e`. Groups are looked into before they are matched, as `except*` does,
    /// unless E is ExceptionGroup (or derived from it).
    template <class E>
    static const E* find_in(const std::exception_ptr& e) noexcept {
        if (!e) return nullptr;
        if constexpr (std::is_base_of_v<ExceptionGroup, E>) {
            try {
                std::rethrow_exception(e);
            } catch (const E& hit) {
                return &hit;
            } catch (...) {
                return nullptr;
            }
        } else {
            try {
                std::rethrow_exception(e);
            } catch (const ExceptionGroup& nested) {
                return nested.find<E>();
            } catch (const E& hit) {
                return &hit;
            } catch (...) {
                return nullptr;
            }
        }
    }
    /// The exceptions that are E and those that are not (nested groups flattened), as
    /// `except* E` sees them.
    template <class E>
    std::pair<std::vector<std::exception_ptr>, std::vector<std::exception_ptr>> split() const {
        std::pair<std::vector<std::exception_ptr>, std::vector<std::exception_ptr>> out;
        split_into<E>(out);
        return out;
    }

private:
    template <class E>
    void split_into(std::pair<std::vector<std::exception_ptr>, std::vector<std::exception_ptr>>& out) const {
        for (const auto& e : exceptions_) {
            if constexpr (std::is_base_of_v<ExceptionGroup, E>) {
                (find_in<E>(e) ? out.first : out.second).push_back(e);
            } else {
                try {
                    std::rethrow_exception(e);
                } catch (const ExceptionGroup& nested) {
                    nested.split_into<E>(out);
                } catch (const E&) {
                    out.first.push_back(e);
                } catch (...) {
                    out.second.push_back(e);
                }
            }
        }
    }

    std::string message_;
    std::vector<std::exception_ptr> exceptions_;
    std::string what_;
};

/// The first E in `e`: `e` itself when it is an E, else the first E inside it when it is an
/// ExceptionGroup (nested groups included); nullptr otherwise (or for a null `e`). For code that
/// must not care whether one error or a group came out (gather()). Valid while `e` lives.
template <class E>
const E* find_exception(const std::exception_ptr& e) noexcept {
    return ExceptionGroup::find_in<E>(e);
}

/// True when `e` is an E or an ExceptionGroup holding one: `except* E` on one exception_ptr,
/// e.g. `catch (...) { if (bulb::holds_exception<TimeoutError>(std::current_exception())) ... }`.
template <class E>
bool holds_exception(const std::exception_ptr& e) noexcept {
    return find_exception<E>(e) != nullptr;
}

}  // namespace bulb
