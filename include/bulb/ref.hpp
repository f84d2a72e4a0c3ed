// SPDX-License-Identifier: MIT
/// @file
/// The library's one ownership vocabulary for loop-thread objects: Counted<T>, an intrusive
/// non-atomic reference count, and RefPtr<T>, the handle that owns one reference.
///
/// A counted object starts at zero references: `RefPtr<T>(new T(...))` (or make_ref) holds the
/// first one. Code that keeps a reference without a RefPtr (a raw pointer stored while a task is
/// suspended, say) takes it with add_ref() and gives it back with release_ref(), or hands it to
/// a RefPtr with `adopt_ref`, which takes it over without counting. Loop thread only.
#pragma once

#include <bulb/config.hpp>
#include <bulb/detail/assert.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bulb {

/// Tag for RefPtr(T*, adopt_ref): take over a reference the caller already holds.
struct adopt_ref_t {
    explicit adopt_ref_t() = default;
};
/// See adopt_ref_t.
inline constexpr adopt_ref_t adopt_ref{};

/// The intrusive count of `Derived` (CRTP): the last release_ref() deletes it through
/// `delete static_cast<Derived*>`, so a virtual destructor and a class-specific operator delete
/// of Derived are honoured. Non-atomic: loop thread only.
template <class Derived>
class Counted {
public:
    Counted() = default;
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;

    /// Takes one more reference.
    void add_ref() const noexcept { ++refs_; }
    /// Gives one reference back; the last one destroys the object.
    void release_ref() const noexcept {
        BULB_ASSERT(refs_ > 0 && "release_ref() without a reference");
        if (--refs_ == 0) delete static_cast<const Derived*>(this);
    }
    /// References held now (tests and assertions).
    std::uint32_t ref_count() const noexcept { return refs_; }

protected:
    ~Counted() = default;

private:
    mutable std::uint32_t refs_ = 0;
};

/// Base of polymorphic loop-thread objects shared by RefPtr (transports, servers): Counted with
/// a virtual destructor.
class RefCounted : public Counted<RefCounted> {
    friend class Counted<RefCounted>;

protected:
    RefCounted() = default;
    virtual ~RefCounted() = default;
};

/// An owning pointer to a counted object (anything with add_ref() / release_ref()). Copies share
/// ownership; loop thread only.
template <class T>
class RefPtr {
public:
    /// An empty pointer.
    ///@{
    RefPtr() noexcept = default;
    RefPtr(std::nullptr_t) noexcept {}
    ///@}
    /// Takes a new reference to `p`.
    explicit RefPtr(T* p) noexcept : p_(p) {
        if (p_) p_->add_ref();
    }
    /// Takes over the reference to `p` the caller holds (no count change).
    RefPtr(T* p, adopt_ref_t) noexcept : p_(p) {}
    /// Copies take a reference of their own (also from a RefPtr to a derived class); moves
    /// hand the reference over and leave the source empty.
    ///@{
    RefPtr(const RefPtr& o) noexcept : RefPtr(o.p_) {}
    RefPtr(RefPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    RefPtr(const RefPtr<U>& o) noexcept : RefPtr(o.get()) {}
    RefPtr& operator=(RefPtr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ///@}
    ~RefPtr() {
        if (p_) p_->release_ref();
    }

    /// The object (nullptr when empty); the pointer keeps its reference.
    ///@{
    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    ///@}
    /// True unless empty.
    explicit operator bool() const noexcept { return p_ != nullptr; }
    /// Gives up ownership without releasing: the caller now holds the reference.
    [[nodiscard]] T* detach() noexcept { return std::exchange(p_, nullptr); }
    /// Pointers to the same object compare equal.
    friend bool operator==(const RefPtr& a, const RefPtr& b) noexcept { return a.p_ == b.p_; }

private:
    T* p_ = nullptr;
};

/// A new T(args...) owned by the returned RefPtr.
template <class T, class... Args>
RefPtr<T> make_ref(Args&&... args) {
    return RefPtr<T>(new T(std::forward<Args>(args)...));
}

}  // namespace bulb
