// SPDX-License-Identifier: MIT
/// @file
/// RingQueue: a growable FIFO of trivially copyable items (the loop's ready queue).
#pragma once

#include "loop/huge_pages.hpp"

#include <cstddef>
#include <cstdint>
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
    ~RingQueue() { recycle(items_, cap_ * sizeof(T)); }

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push_back(T item) {
        if (size() == cap_) grow();
        items_[tail_++ & (cap_ - 1)] = item;
    }
    T pop_front() noexcept { return items_[head_++ & (cap_ - 1)]; }

private:
    [[gnu::noinline]] void grow() {  // out of line: push_back stays a leaf without a stack frame
        std::size_t cap = cap_ ? cap_ * 2 : 256;
        T* items;
        if (spare.bytes >= cap * sizeof(T)) {  // a power of two of items too: it grew from 256
            items = static_cast<T*>(std::exchange(spare.p, nullptr));
            cap = std::exchange(spare.bytes, 0) / sizeof(T);
        } else {
            items = static_cast<T*>(alloc_items(cap * sizeof(T)));
        }
        std::size_t n = size();
        for (std::size_t i = 0; i < n; ++i) items[i] = items_[(head_ + i) & (cap_ - 1)];
        recycle(items_, cap_ * sizeof(T));
        items_ = items;
        cap_ = cap;
        head_ = 0;
        tail_ = n;
    }

    // From 2 MiB on, the buffer is mapped 2 MiB-aligned and advised MADV_HUGEPAGE: a fresh loop
    // that queues 1,000,000 callbacks faulted in its 2, 4 and 8 MiB buffers one 4 KiB page at a
    // time (3,500 faults, each microseconds in a VM); with transparent huge pages it takes seven.
    // (Sanitizer builds take the same path.)
    static void* alloc_items(std::size_t bytes) {
        if (bytes >= huge_page_bytes) return map_huge_aligned(bytes);  // a power of two: a multiple
        void* p = std::malloc(bytes);
        if (!p) throw std::bad_alloc();
        return p;
    }
    static void free_items(void* p, std::size_t bytes) noexcept {
        if (!p) return;
        if (bytes >= huge_page_bytes)
            unmap_huge(p, bytes);
        else
            std::free(p);
    }

    // The largest buffer of 64 KiB or more a queue of this thread let go, for the next queue
    // that grows: a program (or benchmark) making loops one after another that each queue a
    // burst of callbacks does not fault in and zero megabytes of fresh pages each time. A big one
    // is advised MADV_FREE meanwhile: the kernel may take its pages back when it needs memory.
    struct Spare {
        void* p = nullptr;
        std::size_t bytes = 0;
        bool gone = false;  // the thread is exiting: queues destroyed later free their buffers
        ~Spare() {
            free_items(p, bytes);
            p = nullptr;
            bytes = 0;
            gone = true;
        }
    };
    static inline thread_local Spare spare;
    static void recycle(void* p, std::size_t bytes) noexcept {
        if (spare.gone || bytes < (std::size_t(64) << 10) || bytes <= spare.bytes) {
            free_items(p, bytes);
            return;
        }
        free_items(spare.p, spare.bytes);
        if (bytes >= huge_page_bytes) release_huge_pages(p, bytes);
        spare.p = p;
        spare.bytes = bytes;
    }

    T* items_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;  // both grow without wrapping; masked on access
    std::size_t tail_ = 0;
};

}  // namespace bulb::detail
