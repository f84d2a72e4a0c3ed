// SPDX-License-Identifier: MIT
/// @file
/// The containers behind Queue, LifoQueue and PriorityQueue (asyncio's overridable _init, _put
/// and _get), each a `Store` for BasicQueue: push(U&&), pop() -> T, size(), empty(), clear().
/// Every one takes move-only items.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace bulb::detail {

/// First in, first out (Queue).
template <class T>
class FifoStore {
public:
    template <class U>
    void push(U&& item) {
        items_.emplace_back(std::forward<U>(item));
    }
    T pop() {
        T item = std::move(items_.front());
        items_.pop_front();
        return item;
    }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    void clear() noexcept { items_.clear(); }

private:
    std::deque<T> items_;
};

/// Last in, first out (LifoQueue).
template <class T>
class LifoStore {
public:
    template <class U>
    void push(U&& item) {
        items_.emplace_back(std::forward<U>(item));
    }
    T pop() {
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    void clear() noexcept { items_.clear(); }

private:
    std::vector<T> items_;
};

/// Smallest first by `Compare` (PriorityQueue); equal items come out in insertion order, which
/// heapq does not promise but a stable order makes programs reproducible.
template <class T, class Compare>
class PriorityStore {
public:
    explicit PriorityStore(Compare compare = Compare()) : heap_(), later_{std::move(compare)} {}

    template <class U>
    void push(U&& item) {
        heap_.push_back(Entry{T(std::forward<U>(item)), next_seq_++});
        std::push_heap(heap_.begin(), heap_.end(), later_);
    }
    T pop() {
        std::pop_heap(heap_.begin(), heap_.end(), later_);
        T item = std::move(heap_.back().item);
        heap_.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return heap_.size(); }
    bool empty() const noexcept { return heap_.empty(); }
    void clear() noexcept { heap_.clear(); }

private:
    struct Entry {
        T item;
        std::uint64_t seq;
    };
    // The heap's "less than": a comes out after b. std::*_heap keep the greatest on top, so the
    // top is the entry that comes out first.
    struct Later {
        [[no_unique_address]] Compare less;
        bool operator()(const Entry& a, const Entry& b) const {
            if (less(b.item, a.item)) return true;
            if (less(a.item, b.item)) return false;
            return a.seq > b.seq;
        }
    };

    std::vector<Entry> heap_;
    Later later_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace bulb::detail
