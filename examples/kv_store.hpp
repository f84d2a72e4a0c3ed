// SPDX-License-Identifier: MIT
/// @file
/// KvStore: the key space of kv_server -- string values with optional deadlines on the loop
/// clock. Expiry is lazy (a read of an expired key finds nothing and removes it) and active (one
/// loop timer at the earliest deadline removes keys nobody reads), as redis-server does.
/// Loop thread only.
#pragma once

#include <bulb/loop.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

class KvStore {
public:
    using TimePoint = bulb::TimePoint;
    struct Entry {
        std::string value;
        TimePoint expires{};  // TimePoint{} = never
    };

    explicit KvStore(bulb::EventLoop& loop) : loop_(loop) {}
    ~KvStore() { timer_.cancel(); }
    KvStore(const KvStore&) = delete;
    KvStore& operator=(const KvStore&) = delete;

    /// The live entry of `key`, or nullptr (an expired one is removed now).
    Entry* find(std::string_view key) {
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        if (expired(it->second)) {
            erase_it(it);
            return nullptr;
        }
        return &it->second;
    }
    /// Sets `key` to `value`; `expires` empty drops any deadline (SET without KEEPTTL).
    void set(std::string_view key, std::string value, std::optional<TimePoint> expires) {
        auto it = map_.find(key);
        if (it == map_.end()) {
            it = map_.emplace(std::string(key), Entry{}).first;
            used_ += key.size() + entry_overhead;
        }
        used_ += value.size();
        used_ -= it->second.value.size();
        it->second.value = std::move(value);
        set_deadline(it, expires.value_or(TimePoint{}));
    }
    /// Replaces the value of a live entry, keeping its deadline (INCR, SET KEEPTTL).
    void replace_value(Entry& e, std::string value) {
        used_ += value.size();
        used_ -= e.value.size();
        e.value = std::move(value);
    }
    bool erase(std::string_view key) {
        auto it = map_.find(key);
        if (it == map_.end()) return false;
        bool live = !expired(it->second);
        erase_it(it);
        return live;
    }
    /// Gives a live key a deadline (in the past: the key is removed). False if there is no key.
    bool expire_at(std::string_view key, TimePoint when) {
        auto it = map_.find(key);
        if (it == map_.end() || expired(it->second)) {
            if (it != map_.end()) erase_it(it);
            return false;
        }
        if (when <= loop_.time()) {
            erase_it(it);
            return true;
        }
        set_deadline(it, when);
        return true;
    }
    /// Drops a live key's deadline; true if it had one.
    bool persist(std::string_view key) {
        Entry* e = find(key);
        if (!e || e->expires == TimePoint{}) return false;
        e->expires = TimePoint{};
        return true;
    }
    void clear() {
        map_.clear();
        deadlines_ = {};
        used_ = 0;
    }
    /// Keys, expired ones not yet removed included (as redis's DBSIZE).
    std::size_t size() const noexcept { return map_.size(); }
    /// Estimated bytes of keys, values and bookkeeping (--max-memory).
    std::size_t used_memory() const noexcept { return used_; }
    bulb::EventLoop& loop() const noexcept { return loop_; }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
    struct Deadline {
        TimePoint when;
        std::string key;
        bool operator>(const Deadline& o) const noexcept { return when > o.when; }
    };
    static constexpr std::size_t entry_overhead = 64;
    static constexpr std::size_t max_expired_per_run = 1000;  // the loop is never held for long

    bool expired(const Entry& e) const noexcept { return e.expires != TimePoint{} && e.expires <= loop_.time(); }

    void erase_it(Map::iterator it) {
        used_ -= it->first.size() + it->second.value.size() + entry_overhead;
        map_.erase(it);
    }

    void set_deadline(Map::iterator it, TimePoint when) {
        it->second.expires = when;
        if (when == TimePoint{}) return;
        deadlines_.push({when, it->first});  // older deadlines of the key stay and are skipped
        if (deadlines_.size() > 2 * map_.size() + 1024) rebuild_deadlines();
        arm();
    }

    // Drops the deadlines that no longer apply (keys re-set or removed since).
    void rebuild_deadlines() {
        std::vector<Deadline> live;
        for (const auto& [key, e] : map_)
            if (e.expires != TimePoint{}) live.push_back({e.expires, key});
        deadlines_ = decltype(deadlines_)(std::greater<>(), std::move(live));
    }

    // One timer, at the earliest deadline.
    void arm() {
        if (deadlines_.empty()) return;
        TimePoint next = deadlines_.top().when;
        if (timer_ && !timer_.cancelled() && timer_at_ <= next) return;
        timer_.cancel();
        timer_at_ = next;
        timer_ = loop_.call_at(next, [this] {
            timer_ = bulb::TimerHandle();
            expire_due();
        });
    }

    void expire_due() {
        const TimePoint now = loop_.time();
        std::size_t removed = 0;
        while (!deadlines_.empty() && deadlines_.top().when <= now && removed < max_expired_per_run) {
            const Deadline& d = deadlines_.top();
            auto it = map_.find(d.key);
            if (it != map_.end() && it->second.expires == d.when) {  // not a deadline since replaced
                erase_it(it);
                ++removed;
            }
            deadlines_.pop();
        }
        if (!deadlines_.empty() && deadlines_.top().when <= now) {  // more are due: go on next iteration
            timer_at_ = now;
            timer_ = loop_.call_later(bulb::Duration::zero(), [this] {
                timer_ = bulb::TimerHandle();
                expire_due();
            });
            return;
        }
        arm();
    }

    bulb::EventLoop& loop_;
    Map map_;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
    bulb::TimerHandle timer_;
    TimePoint timer_at_{};
    std::size_t used_ = 0;
};
