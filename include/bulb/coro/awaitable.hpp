// SPDX-License-Identifier: MIT
/// @file
/// The Awaitable concept and await_result_t: what `co_await x` gives, for combinators that take
/// any awaitable (wait_for, Timeout::run).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <coroutine>
#include <type_traits>
#include <utility>

namespace bulb {
namespace detail {

/// The awaiter `co_await a` uses: a.operator co_await(), operator co_await(a), or `a` itself.
template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); })
        return std::forward<A>(a).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<A>(a)); })
        return operator co_await(std::forward<A>(a));
    else
        return std::forward<A>(a);
}

}  // namespace detail

/// What `co_await std::declval<A>()` evaluates to.
template <class A>
using await_result_t = decltype(std::declval<decltype(detail::get_awaiter(std::declval<A>()))&>().await_resume());

/// A type that can be awaited as an rvalue: Task<T>, Future<T>, sleep(), AsyncGenerator::next()...
template <class A>
concept Awaitable = requires { typename await_result_t<A>; };

}  // namespace bulb
