// SPDX-License-Identifier: MIT
/// @file
/// RefCounted and RefPtr: a non-atomic intrusive reference count (loop thread only).
#pragma once

#include <cstdint>
#include <utility>

namespace bulb {

/// Base of loop-thread objects shared by counted handles (transports, servers).
class RefCounted {
public:
    RefCounted() = default;
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void add_ref() const noexcept { ++refs_; }
    void release_ref() const noexcept {
        if (--refs_ == 0) delete this;
    }

protected:
    virtual ~RefCounted() = default;

private:
    mutable std::uint32_t refs_ = 0;
};

/// An owning pointer to a RefCounted object. Copies share ownership; loop thread only.
template <class T>
class RefPtr {
public:
    RefPtr() noexcept = default;
    RefPtr(std::nullptr_t) noexcept {}
    explicit RefPtr(T* p) noexcept : p_(p) {
        if (p_) p_->add_ref();
    }
    RefPtr(const RefPtr& o) noexcept : RefPtr(o.p_) {}
    RefPtr(RefPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    RefPtr(const RefPtr<U>& o) noexcept : RefPtr(o.get()) {}
    RefPtr& operator=(RefPtr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~RefPtr() {
        if (p_) p_->release_ref();
    }

    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    friend bool operator==(const RefPtr& a, const RefPtr& b) noexcept { return a.p_ == b.p_; }

private:
    T* p_ = nullptr;
};

}  // namespace bulb
