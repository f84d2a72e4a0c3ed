// SPDX-License-Identifier: MIT
/// @file
/// RingQueue: a growable FIFO of trivially copyable items (the loop's ready queue).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

namespace bulb::detail {

template <class T>
class RingQueue {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    RingQueue() = default;
    RingQueue(const RingQueue&) = delete;
    RingQueue& operator=(const RingQueue&) = delete;
    ~RingQueue() { std::free(items_); }

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push_back(T item) {
        if (size() == cap_) grow();
        items_[tail_++ & (cap_ - 1)] = item;
    }
    T pop_front() noexcept { return items_[head_++ & (cap_ - 1)]; }

private:
    void grow() {
        std::size_t cap = cap_ ? cap_ * 2 : 256;
        T* items = static_cast<T*>(std::malloc(cap * sizeof(T)));
        if (!items) throw std::bad_alloc();
        std::size_t n = size();
        for (std::size_t i = 0; i < n; ++i) items[i] = items_[(head_ + i) & (cap_ - 1)];
        std::free(items_);
        items_ = items;
        cap_ = cap;
        head_ = 0;
        tail_ = n;
    }

    T* items_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;  // both grow without wrapping; masked on access
    std::size_t tail_ = 0;
};

}  // namespace bulb::detail
