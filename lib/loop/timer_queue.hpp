// SPDX-License-Identifier: MIT
/// @file
/// TimerQueue: the loop's pending timers, taken in deadline order (equal deadlines first in,
/// first out).
///
/// Why not one binary heap: with 200,000 timers a heap pop walks ~17 levels of a 4.8 MB array,
/// a cache miss at each (44 % of the instructions of bench/ (b)). The loop's poll timeout is in
/// whole milliseconds anyway, so timers due within about a second go, unsorted, into a wheel of
/// 1,024 slots of 2^20 ns (~1.05 ms): a push appends a node pointer. When the clock reaches a
/// slot, its live timers are sorted (a stable bucket sort on the deadline, in cache) and
/// appended to `due_`, a sorted run taken from the front. Later deadlines wait in a heap
/// (`far_`) and join the run when their slot's time comes; a timer pushed into a slot already
/// opened goes to a small heap (`late_`). The next timer is the earlier of due_'s front and
/// late_'s top.
///
/// Equal deadlines keep their scheduling order without a sequence number in due_: a tick's far
/// timers were all pushed before any of its wheel timers (the wheel only reaches forward), they
/// enter a batch first, the sort is stable, and late_'s timers of a tick came after its opening.
#pragma once

#include "loop/scheduled_callback.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace bulb::detail {

class TimerQueue {
public:
    TimerQueue() = default;
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    /// Timers held, cancelled ones included until they are dropped.
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    /// Sets where the wheel starts; only while empty (deadlines near `now_ns` then land in it).
    void rebase(std::int64_t now_ns) noexcept {
        if (size_ == 0) cur_ = tick(now_ns) - 1;
    }
    /// Adds `node` (taking over one reference) due at `when_ns`.
    void push(ScheduledCallback* node, std::int64_t when_ns);
    /// `node`, one of its timers, was cancelled (ScheduledCallback::cancelled set). Counted when it
    /// waits in the far heap, so that heap is purged when mostly dead.
    void cancelled(const ScheduledCallback* node) noexcept {
        if (node->far_timer) ++far_cancelled_;
    }

    /// The earliest deadline of a live timer, or none. Drops cancelled timers it meets; may
    /// open the next slot holding timers early.
    std::optional<std::int64_t> next_deadline();
    /// Hands every live timer due at `end_ns` or before, in order, to `sink(ScheduledCallback*)` with
    /// its reference; releases the cancelled ones met on the way.
    template <class Sink>
    void take_due(std::int64_t end_ns, Sink&& sink);
    /// Drops the cancelled far timers when more than half of a large far heap is cancelled
    /// (asyncio's rule for its heap), so cancelled timeouts do not pile up. Cancelled timers
    /// nearer than that are dropped within a second, as the wheel turns.
    void purge_if_mostly_cancelled();
    /// Empties the queue, handing each node (cancelled or not) to `sink` with its reference.
    template <class Sink>
    void clear(Sink&& sink);

private:
    /// An entry of the heaps, ordered by (when, seq).
    struct Timer {
        std::int64_t when;
        std::uint64_t seq;
        ScheduledCallback* node;
        bool operator<(const Timer& o) const noexcept {
            return when < o.when || (when == o.when && seq < o.seq);
        }
    };
    /// The heaps' order: a min-heap on (when, seq).
    struct Later {
        bool operator()(const Timer& a, const Timer& b) const noexcept { return b < a; }
    };
    using Nodes = std::vector<ScheduledCallback*>;
    static constexpr int tick_shift = 20;  // 2^20 ns per slot
    static constexpr std::int64_t slots = 1024;

    static std::int64_t tick(std::int64_t ns) noexcept { return ns >> tick_shift; }
    Nodes& slot(std::int64_t t) noexcept { return wheel_[std::size_t(t & (slots - 1))]; }
    /// Moves every timer of ticks up to `end_tick` into due_, sorted; cur_ becomes end_tick.
    void open_until(std::int64_t end_tick);
    /// Stable sort of due_ from `from` on by deadline.
    void sort_due(std::size_t from);
    /// Room in due_ for `more` timers, so keep_live cannot throw half-way through a slot.
    void reserve_due(std::size_t more);
    /// Appends `node` to due_ if it is live, else releases it.
    void keep_live(ScheduledCallback* node) noexcept;
    void drop(ScheduledCallback* node) noexcept;
    /// Whether late_'s top comes before due_'s front (false when late_ is empty).
    bool late_first() const noexcept {
        return !late_.empty() && (due_head_ == due_.size() || late_.front().when < due_[due_head_]->when);
    }
    /// The next timer (due_'s front or late_'s top, as late_first() says), or null.
    ScheduledCallback* first(bool late) const noexcept {
        if (late) return late_.front().node;
        return due_head_ < due_.size() ? due_[due_head_] : nullptr;
    }
    /// Removes first(late).
    void pop_first(bool late) noexcept;
    void drop_dead_heads() noexcept;

    std::unique_ptr<Nodes[]> wheel_;  // made at the first push
    std::int64_t cur_ = 0;            // ticks up to this one are opened
    std::size_t in_wheel_ = 0;
    Nodes due_;  // sorted; its live part starts at due_head_
    std::size_t due_head_ = 0;
    Nodes scratch_;                      // sort_due's buffers
    std::vector<std::uint32_t> counts_;
    std::vector<Timer> late_;  // min-heap: pushed for ticks already opened
    std::vector<Timer> far_;   // min-heap: beyond the wheel when pushed
    std::size_t size_ = 0;
    std::size_t far_cancelled_ = 0;
    std::uint64_t seq_ = 0;
};

template <class Sink>
void TimerQueue::take_due(std::int64_t end_ns, Sink&& sink) {
    open_until(tick(end_ns));
    for (;;) {
        const bool late = late_first();
        ScheduledCallback* node = first(late);
        if (!node || node->when > end_ns) break;
        pop_first(late);
        node->loop = nullptr;
        --size_;
        if (node->cancelled)
            release(node);
        else
            sink(node);
    }
}

template <class Sink>
void TimerQueue::clear(Sink&& sink) {
    Nodes all(due_.begin() + std::ptrdiff_t(due_head_), due_.end());
    for (auto& t : far_) all.push_back(t.node);
    for (auto& t : late_) all.push_back(t.node);
    far_.clear();
    late_.clear();
    due_.clear();
    due_head_ = 0;
    if (wheel_)
        for (std::int64_t i = 0; i < slots; ++i) {
            all.insert(all.end(), wheel_[std::size_t(i)].begin(), wheel_[std::size_t(i)].end());
            wheel_[std::size_t(i)].clear();
        }
    in_wheel_ = size_ = far_cancelled_ = 0;
    for (ScheduledCallback* node : all) {
        node->loop = nullptr;
        node->far_timer = false;
        sink(node);
    }
}

}  // namespace bulb::detail
