// SPDX-License-Identifier: MIT
/// @file
/// TimerQueue: the wheel of near deadlines, the heaps of far and late ones (timer_queue.hpp).
#include "timer_queue.hpp"

#include <algorithm>

namespace bulb::detail {

void TimerQueue::push(CallbackNode* node, std::int64_t when_ns) {
    const Timer t{when_ns, seq_++, node};
    const std::int64_t tk = tick(when_ns);
    if (tk <= cur_) {
        late_.push_back(t);
        std::push_heap(late_.begin(), late_.end(), Later());
    } else if (tk - cur_ < slots) {
        if (!wheel_) wheel_ = std::make_unique<std::vector<Timer>[]>(slots);
        slot(tk).push_back(t);
        ++in_wheel_;
    } else {
        node->far_timer = true;
        far_.push_back(t);
        std::push_heap(far_.begin(), far_.end(), Later());
    }
    ++size_;
}

void TimerQueue::drop(CallbackNode* node) noexcept {
    node->loop = nullptr;
    --size_;
    release(node);
}

void TimerQueue::reserve_due(std::size_t more) {
    if (due_.size() + more > due_.capacity()) due_.reserve(std::max(due_.size() + more, 2 * due_.capacity()));
}

void TimerQueue::keep_live(const Timer& t) noexcept {
    if (t.node->cancelled)
        drop(t.node);
    else
        due_.push_back(t);  // never reallocates: see reserve_due
}

void TimerQueue::open_until(std::int64_t end_tick) {
    if (end_tick <= cur_) return;
    if (due_head_ == due_.size()) {
        due_.clear();
        due_head_ = 0;
    }
    const std::size_t old = due_.size();
    if (in_wheel_) {
        const std::int64_t last = std::min(end_tick, cur_ + slots - 1);
        for (std::int64_t tk = cur_ + 1; tk <= last && in_wheel_; ++tk) {
            std::vector<Timer>& s = slot(tk);
            if (s.empty()) continue;
            reserve_due(s.size());
            in_wheel_ -= s.size();
            // The nodes lie anywhere in memory: fetch a few ahead of the one being checked.
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (i + 8 < s.size()) __builtin_prefetch(s[i + 8].node);
                keep_live(s[i]);
            }
            // A burst's slot gives its memory back rather than holding it for a second.
            if (s.capacity() > 4096)
                std::vector<Timer>().swap(s);
            else
                s.clear();
        }
    }
    while (!far_.empty() && tick(far_.front().when) <= end_tick) {
        reserve_due(1);
        std::pop_heap(far_.begin(), far_.end(), Later());
        far_.back().node->far_timer = false;
        if (far_.back().node->cancelled) --far_cancelled_;
        keep_live(far_.back());
        far_.pop_back();
    }
    cur_ = end_tick;
    // Everything appended is due after what was in due_ before: it is of later ticks.
    std::sort(due_.begin() + std::ptrdiff_t(old), due_.end());
}

TimerQueue::Timer* TimerQueue::first() noexcept {
    Timer* d = due_head_ < due_.size() ? &due_[due_head_] : nullptr;
    Timer* l = late_.empty() ? nullptr : &late_.front();
    if (!d) return l;
    if (!l) return d;
    return *l < *d ? l : d;
}

void TimerQueue::pop(Timer* t) noexcept {
    if (!late_.empty() && t == &late_.front()) {
        std::pop_heap(late_.begin(), late_.end(), Later());
        late_.pop_back();
        return;
    }
    ++due_head_;
    if (due_head_ + 8 < due_.size()) __builtin_prefetch(due_[due_head_ + 8].node, 1);
    if (due_head_ == due_.size()) {
        due_.clear();
        due_head_ = 0;
    }
}

void TimerQueue::drop_dead_heads() noexcept {
    while (Timer* t = first()) {
        if (!t->node->cancelled) break;
        CallbackNode* node = t->node;
        pop(t);
        drop(node);
    }
    while (!far_.empty() && far_.front().node->cancelled) {
        CallbackNode* node = far_.front().node;
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
        if (Timer* t = first()) return t->when;
        if (size_ == 0) return std::nullopt;
        // Open the next tick holding timers ahead of time: the scan passes each slot once, and
        // its timers are sorted once. Timers pushed for earlier ticks meanwhile go to late_.
        std::int64_t next = far_.empty() ? cur_ + slots : tick(far_.front().when);
        for (std::int64_t tk = cur_ + 1; in_wheel_ && tk < next; ++tk)
            if (!slot(tk).empty()) next = tk;
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
