// SPDX-License-Identifier: MIT
/// @file
/// Per-loop state of a LoopGroup: PerLoop<T> (one T per loop: a cache, a connection pool) and
/// PerLoopCounter (a count each loop bumps with no lock and no read-modify-write, summed from
/// any thread for a status page).
#pragma once

#include <bulb/error.hpp>
#include <bulb/loop_group.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace bulb {

/// One T per loop of a group, made on the constructing thread by `make(index)`.
///
/// local() is the calling loop's instance: only that loop touches it, so T needs no lock.
/// at(i) is for loop i's thread, or any thread while the group does not run. Must not outlive
/// the group's loops' use of it.
template <class T>
class PerLoop {
public:
    template <class Make>
    /// One instance per loop of `group`, made by make(loop_index) on the calling thread.
    PerLoop(LoopGroup& group, Make make) : group_(&group) {
        for (std::size_t i = 0; i < group.size(); ++i) slots_.push_back(std::make_unique<Slot>(make(i)));
    }
    /// The calling loop's instance; InvalidStateError off the group's threads.
    T& local() {
        std::size_t i = group_->current_index();
        if (i == LoopGroup::npos) throw InvalidStateError("PerLoop::local: not on a loop of the group");
        return slots_[i]->value;
    }
    /// Loop `index`'s instance (see the class comment for who may touch it).
    T& at(std::size_t index) { return slots_.at(index)->value; }
    /// Runs `fn(instance)` on every loop, in turn, and returns the results by loop index
    /// (LoopGroup::run_on: blocking, outside the group only).
    template <class F>
    auto collect(F fn) -> std::vector<std::invoke_result_t<F&, T&>> {
        std::vector<std::invoke_result_t<F&, T&>> out;
        for (std::size_t i = 0; i < slots_.size(); ++i)
            out.push_back(group_->run_on(i, [this, i, &fn] { return fn(slots_[i]->value); }));
        return out;
    }

private:
    struct alignas(64) Slot {  // a cache line each: loops never share one
        explicit Slot(T v) : value(std::move(v)) {}
        T value;
    };
    LoopGroup* group_;
    std::vector<std::unique_ptr<Slot>> slots_;
};

/// A counter per loop: add() on a group loop is a relaxed load and store of that loop's own
/// cache line (one writer: no atomic read-modify-write, no lock); total() sums from any thread.
class PerLoopCounter {
public:
    /// A counter with one cell per loop of `group`, all zero.
    explicit PerLoopCounter(LoopGroup& group) : group_(&group), cells_(group.size()) {}
    /// Adds `n` to the calling loop's count; InvalidStateError off the group's threads.
    void add(std::uint64_t n = 1) {
        std::size_t i = group_->current_index();
        if (i == LoopGroup::npos) throw InvalidStateError("PerLoopCounter::add: not on a loop of the group");
        auto& c = cells_[i].count;
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /// Loop `index`'s count (a relaxed snapshot). Any thread.
    std::uint64_t at(std::size_t index) const { return cells_.at(index).count.load(std::memory_order_relaxed); }
    /// The sum over all loops (a relaxed snapshot). Any thread.
    std::uint64_t total() const noexcept {
        std::uint64_t n = 0;
        for (auto& c : cells_) n += c.count.load(std::memory_order_relaxed);
        return n;
    }

private:
    struct alignas(64) Cell {
        std::atomic<std::uint64_t> count{0};
    };
    LoopGroup* group_;
    std::vector<Cell> cells_;
};

}  // namespace bulb
