// SPDX-License-Identifier: MIT
/// @file
/// TimerQueue: the wheel of near deadlines, the heaps of far and late ones (timer_queue.hpp).
#include "loop/timer_queue.hpp"

#include <algorithm>
#include <bit>

namespace bulb::detail {

void TimerQueue::push(ScheduledCallback* node, std::int64_t when_ns) {
    const std::int64_t tk = tick(when_ns);
    if (tk > cur_ && tk - cur_ < slots) {
        if (!wheel_) wheel_ = std::make_unique<Nodes[]>(slots);
        slot(tk).push_back(node);
        ++in_wheel_;
    } else if (tk <= cur_) {
        late_.push_back({when_ns, seq_++, node});
        std::push_heap(late_.begin(), late_.end(), Later());
    } else {
        far_.push_back({when_ns, seq_++, node});
        std::push_heap(far_.begin(), far_.end(), Later());
        node->far_timer = true;
    }
    ++size_;
}

void TimerQueue::drop(ScheduledCallback* node) noexcept {
    node->loop = nullptr;
    --size_;
    release(node);
}

void TimerQueue::reserve_due(std::size_t more) {
    if (due_.size() + more > due_.capacity()) due_.reserve(std::max(due_.size() + more, 2 * due_.capacity()));
}

void TimerQueue::keep_live(ScheduledCallback* node) noexcept {
    if (node->cancelled)
        drop(node);
    else
        due_.push_back(node);  // never reallocates: see reserve_due
}

void TimerQueue::open_until(std::int64_t end_tick) {
    if (end_tick <= cur_) return;
    if (due_head_ == due_.size()) {
        due_.clear();
        due_head_ = 0;
    }
    const std::size_t old = due_.size();
    // Far timers first: of equal deadlines, they were scheduled before the wheel's.
    while (!far_.empty() && tick(far_.front().when) <= end_tick) {
        reserve_due(1);
        std::pop_heap(far_.begin(), far_.end(), Later());
        ScheduledCallback* node = far_.back().node;
        far_.pop_back();
        node->far_timer = false;
        if (node->cancelled) --far_cancelled_;
        keep_live(node);
    }
    const std::int64_t last = std::min(end_tick, cur_ + slots - 1);
    for (std::int64_t tk = cur_ + 1; tk <= last && in_wheel_; ++tk) {
        Nodes& s = slot(tk);
        if (s.empty()) continue;
        reserve_due(s.size());
        in_wheel_ -= s.size();
        // The nodes lie anywhere in memory: fetch a few ahead of the one being checked.
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (i + 8 < s.size()) __builtin_prefetch(s[i + 8]);
            keep_live(s[i]);
        }
        // A burst's slot gives its memory back rather than holding it for a second.
        if (s.capacity() > 8192)
            Nodes().swap(s);
        else
            s.clear();
    }
    cur_ = end_tick;
    // Everything appended is due after what was in due_ before: it is of later ticks.
    sort_due(old);
}

namespace {

std::size_t bucket(std::int64_t when, std::int64_t lo, int shift) noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(when) - static_cast<std::uint64_t>(lo)) >> shift);
}

}  // namespace

void TimerQueue::sort_due(std::size_t from) {
    const std::size_t n = due_.size() - from;
    ScheduledCallback** a = due_.data() + from;
    if (n > 32) {
        // Counting sort into about n/2 buckets of equal time spans (stable), which leaves each
        // node in a bucket of a few; the insertion sort below then has little left to move.
        std::int64_t lo = a[0]->when, hi = lo;
        for (std::size_t i = 1; i < n; ++i) {
            lo = std::min(lo, a[i]->when);
            hi = std::max(hi, a[i]->when);
        }
        const std::size_t buckets = std::bit_ceil(n / 2);
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
        int shift = 0;
        while ((span >> shift) >= buckets) ++shift;
        std::vector<std::uint32_t>& count = counts_;
        count.assign(buckets + 1, 0);
        for (std::size_t i = 0; i < n; ++i) ++count[bucket(a[i]->when, lo, shift) + 1];
        for (std::size_t b = 1; b <= buckets; ++b) count[b] += count[b - 1];
        scratch_.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            scratch_[count[bucket(a[i]->when, lo, shift)]++] = a[i];
        std::copy(scratch_.begin(), scratch_.end(), a);
        if (scratch_.capacity() > 8192) {
            Nodes().swap(scratch_);
            std::vector<std::uint32_t>().swap(counts_);
        }
    }
    // Insertion sort, stable: a node moves only past strictly later deadlines.
    for (std::size_t i = 1; i < n; ++i) {
        ScheduledCallback* x = a[i];
        std::size_t j = i;
        for (; j > 0 && a[j - 1]->when > x->when; --j) a[j] = a[j - 1];
        a[j] = x;
    }
}

void TimerQueue::pop_first(bool late) noexcept {
    if (late) {
        std::pop_heap(late_.begin(), late_.end(), Later());
        late_.pop_back();
        return;
    }
    ++due_head_;
    if (due_head_ + 8 < due_.size()) __builtin_prefetch(due_[due_head_ + 8], 1);
    if (due_head_ == due_.size()) {
        due_.clear();
        due_head_ = 0;
    }
}

void TimerQueue::drop_dead_heads() noexcept {
    for (;;) {
        const bool late = late_first();
        ScheduledCallback* node = first(late);
        if (!node || !node->cancelled) break;
        pop_first(late);
        drop(node);
    }
    while (!far_.empty() && far_.front().node->cancelled) {
        ScheduledCallback* node = far_.front().node;
        std::pop_heap(far_.begin(), far_.end(), Later());
        far_.pop_back();
        node->far_timer = false;
        --far_cancelled_;
        drop(node);
    }
}

std::optional<std::int64_t> TimerQueue::next_deadline() {
    for (;;) {
        drop_dead_heads();
        // due_ and late_ hold only opened ticks, earlier than anything in the wheel or far_.
        if (ScheduledCallback* node = first(late_first())) return node->when;
        if (size_ == 0) return std::nullopt;
        // Open the next tick holding timers ahead of time: the scan passes each slot once, and
        // its timers are sorted once. Timers pushed for earlier ticks meanwhile go to late_.
        std::int64_t next = far_.empty() ? cur_ + slots : tick(far_.front().when);
        for (std::int64_t tk = cur_ + 1; in_wheel_ && tk < next; ++tk)
            if (!slot(tk).empty()) next = tk;
        // Only far_ holds timers, beyond the wheel: opening that far ahead would send every
        // nearer timer pushed meanwhile to late_.
        if (next - cur_ >= slots) return far_.front().when;
        open_until(next);
    }
}

void TimerQueue::purge_if_mostly_cancelled() {
    if (far_.size() <= 100 || far_cancelled_ * 2 <= far_.size()) return;
    auto dead = [this](const Timer& t) {
        if (!t.node->cancelled) return false;
        t.node->far_timer = false;
        drop(t.node);
        return true;
    };
    far_.erase(std::remove_if(far_.begin(), far_.end(), dead), far_.end());
    std::make_heap(far_.begin(), far_.end(), Later());
    far_cancelled_ = 0;
}

}  // namespace bulb::detail
