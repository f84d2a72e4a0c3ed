// SPDX-License-Identifier: MIT
/// @file
/// UniqueFunction: a move-only callable (std::move_only_function is C++23).
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace bulb {

template <class Signature>
class UniqueFunction;

/// A move-only type-erased callable. Callables up to `inline_size` bytes that are nothrow-movable
/// are stored inline (no allocation); larger ones live on the heap. Trivially copyable callables
/// (lambdas capturing pointers and numbers) are moved by copying the storage and need no destructor
/// call: no indirect call but the invocation itself.
template <class R, class... Args>
class UniqueFunction<R(Args...)> {
public:
    /// Callables up to this size (and pointer alignment) are stored inline, without allocation.
    static constexpr std::size_t inline_size = 4 * sizeof(void*);
    /// Callables aligned beyond a pointer (long double, SIMD types) live on the heap: aligning the
    /// storage for them would make every UniqueFunction 48 bytes instead of 40, and the loop's
    /// callback node 80 instead of one 64-byte cache line.
    static constexpr std::size_t inline_align = alignof(void*);

    UniqueFunction() noexcept = default;
    /// An empty function.
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

    /// Moves leave the source empty.
    UniqueFunction(UniqueFunction&& other) noexcept : ops_(other.ops_) {
        if (ops_) {
            relocate_from(other);
            other.ops_ = nullptr;
        }
    }

    /// Move assignment: destroys the held callable first; the source is left empty.
    UniqueFunction& operator=(UniqueFunction&& other) noexcept {
        if (this != &other) {
            reset();
            if ((ops_ = other.ops_)) {
                relocate_from(other);
                other.ops_ = nullptr;
            }
        }
        return *this;
    }

    /// Destroys the callable; the function is empty.
    UniqueFunction& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }

    ~UniqueFunction() { reset(); }

    /// True when a callable is held.
    explicit operator bool() const noexcept { return ops_ != nullptr; }

    /// Calls the held callable; calling an empty UniqueFunction is undefined.
    R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

    /// The held callable if its type is exactly D, else nullptr (no RTTI: the type is told by its
    /// operations table, so a callable stored by another shared object may not be recognised).
    template <class D>
    D* target() noexcept {
        if constexpr (fits_inline<D>)
            return ops_ == &inline_ops<D> ? std::launder(reinterpret_cast<D*>(storage_)) : nullptr;
        else
            return ops_ == &heap_ops<D> ? *reinterpret_cast<D**>(storage_) : nullptr;
    }

    /// Destroys the held callable, leaving this empty.
    void reset() noexcept {
        if (ops_) {
            auto ops = ops_;
            ops_ = nullptr;
            if (ops->destroy) ops->destroy(storage_);
        }
    }

private:
    struct Ops {
        R (*invoke)(void*, Args&&...);
        void (*relocate)(void* from, void* to) noexcept;  // nullptr: copying the storage moves it
        void (*destroy)(void*) noexcept;                  // nullptr: nothing to destroy
    };

    // Moves the callable of `other` (whose ops_ this already holds) into this storage. The copy
    // takes the whole storage, also the bytes a smaller callable left unset (hence the pragma).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    void relocate_from(UniqueFunction& other) noexcept {
        if (ops_->relocate)
            ops_->relocate(other.storage_, storage_);
        else
            std::memcpy(storage_, other.storage_, inline_size);
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    // Calls `f`, discarding its result when R is void (is_invocable_r accepts any result then).
    template <class D>
    static R call(D& f, Args&&... a) {
        if constexpr (std::is_void_v<R>)
            static_cast<void>(f(std::forward<Args>(a)...));
        else
            return f(std::forward<Args>(a)...);
    }

    template <class D>
    static constexpr bool fits_inline = sizeof(D) <= inline_size && alignof(D) <= inline_align &&
                                        std::is_nothrow_move_constructible_v<D>;
    template <class D>
    static constexpr bool trivial_inline =
        fits_inline<D> && std::is_trivially_copyable_v<D> && std::is_trivially_destructible_v<D>;

    template <class D>
    static void relocate_inline(void* from, void* to) noexcept {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
    }
    template <class D>
    static void destroy_inline(void* p) noexcept {
        static_cast<D*>(p)->~D();
    }

    template <class D>
    static constexpr Ops inline_ops{
        [](void* p, Args&&... a) -> R { return call(*static_cast<D*>(p), std::forward<Args>(a)...); },
        trivial_inline<D> ? nullptr : &relocate_inline<D>,
        trivial_inline<D> ? nullptr : &destroy_inline<D>,
    };

    template <class D>
    static constexpr Ops heap_ops{
        [](void* p, Args&&... a) -> R { return call(**static_cast<D**>(p), std::forward<Args>(a)...); },
        nullptr,  // the storage holds just the pointer
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };

    alignas(inline_align) unsigned char storage_[inline_size];
    const Ops* ops_ = nullptr;
};

}  // namespace bulb
