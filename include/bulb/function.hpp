// SPDX-License-Identifier: MIT
/// @file
/// UniqueFunction: a move-only callable (std::move_only_function is C++23).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace bulb {

template <class Signature>
class UniqueFunction;

/// A move-only type-erased callable. Callables up to `inline_size` bytes that are nothrow-movable
/// are stored inline (no allocation); larger ones live on the heap.
template <class R, class... Args>
class UniqueFunction<R(Args...)> {
public:
    static constexpr std::size_t inline_size = 4 * sizeof(void*);

    UniqueFunction() noexcept = default;
    UniqueFunction(std::nullptr_t) noexcept {}

    /// Wraps any callable invocable as R(Args...).
    template <class F, class D = std::decay_t<F>,
              class = std::enable_if_t<!std::is_same_v<D, UniqueFunction> && std::is_invocable_r_v<R, D&, Args...>>>
    UniqueFunction(F&& f) {
        if constexpr (fits_inline<D>) {
            ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }

    UniqueFunction(UniqueFunction&& other) noexcept : ops_(other.ops_) {
        if (ops_) {
            ops_->relocate(other.storage_, storage_);
            other.ops_ = nullptr;
        }
    }

    UniqueFunction& operator=(UniqueFunction&& other) noexcept {
        if (this != &other) {
            reset();
            if ((ops_ = other.ops_)) {
                ops_->relocate(other.storage_, storage_);
                other.ops_ = nullptr;
            }
        }
        return *this;
    }

    UniqueFunction& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }

    ~UniqueFunction() { reset(); }

    /// True when a callable is held.
    explicit operator bool() const noexcept { return ops_ != nullptr; }

    /// Calls the held callable; calling an empty UniqueFunction is undefined.
    R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

    /// Destroys the held callable, leaving this empty.
    void reset() noexcept {
        if (ops_) {
            auto ops = ops_;
            ops_ = nullptr;
            ops->destroy(storage_);
        }
    }

private:
    struct Ops {
        R (*invoke)(void*, Args&&...);
        void (*relocate)(void* from, void* to) noexcept;
        void (*destroy)(void*) noexcept;
    };

    // Calls `f`, discarding its result when R is void (is_invocable_r accepts any result then).
    template <class D>
    static R call(D& f, Args&&... a) {
        if constexpr (std::is_void_v<R>)
            static_cast<void>(f(std::forward<Args>(a)...));
        else
            return f(std::forward<Args>(a)...);
    }

    template <class D>
    static constexpr bool fits_inline = sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
                                        std::is_nothrow_move_constructible_v<D>;

    template <class D>
    static constexpr Ops inline_ops{
        [](void* p, Args&&... a) -> R { return call(*static_cast<D*>(p), std::forward<Args>(a)...); },
        [](void* from, void* to) noexcept {
            ::new (to) D(std::move(*static_cast<D*>(from)));
            static_cast<D*>(from)->~D();
        },
        [](void* p) noexcept { static_cast<D*>(p)->~D(); },
    };

    template <class D>
    static constexpr Ops heap_ops{
        [](void* p, Args&&... a) -> R { return call(**static_cast<D**>(p), std::forward<Args>(a)...); },
        [](void* from, void* to) noexcept { *static_cast<D**>(to) = *static_cast<D**>(from); },
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };

    alignas(std::max_align_t) unsigned char storage_[inline_size];
    const Ops* ops_ = nullptr;
};

}  // namespace bulb
