// SPDX-License-Identifier: MIT
/// @file
/// Queue, LifoQueue, PriorityQueue: producer/consumer queues for tasks (asyncio.Queue and its
/// subclasses, Python 3.13 with shutdown()), and their exceptions QueueEmpty, QueueFull and
/// QueueShutDown.
///
/// ```
/// bulb::Queue<Job> jobs(100);              // put() waits while 100 items are queued
/// co_await jobs.put(Job{...});
/// Job job = co_await jobs.get();
/// jobs.task_done();                        // then co_await jobs.join() elsewhere
/// ```
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/event.hpp>
#include <bulb/coro/queue_storage.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/coro/wait_list.hpp>
#include <bulb/error.hpp>

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

namespace bulb {

/// get_nowait() on an empty queue (asyncio.QueueEmpty); a bulb::Error with errc::queue_empty.
class QueueEmpty : public Error {
public:
    QueueEmpty() : Error(errc::queue_empty) {}
};

/// put_nowait() on a full queue (asyncio.QueueFull); a bulb::Error with errc::queue_full.
class QueueFull : public Error {
public:
    QueueFull() : Error(errc::queue_full) {}
};

/// Putting into a shut-down queue, or getting from one that is shut down and empty
/// (asyncio.QueueShutDown); a bulb::Error with errc::queue_shut_down.
class QueueShutDown : public Error {
public:
    QueueShutDown() : Error(errc::queue_shut_down) {}
};

namespace detail {

/// A Task<R> run inline from another awaiter's await_suspend: the slow path of an awaiter whose
/// fast path completes without suspending (and without allocating).
template <class R>
struct InlineTask {
    explicit InlineTask(Task<R> t) : task(std::move(t)), awaiter(std::move(task).operator co_await()) {}
    Task<R> task;
    decltype(std::declval<Task<R>>().operator co_await()) awaiter;
};

}  // namespace detail

/// A queue of T with an optional capacity, ordered by `Store` (asyncio.Queue; use Queue,
/// LifoQueue or PriorityQueue). T may be move-only. Loop thread only; must outlive the tasks
/// waiting on it.
///
/// As in asyncio, a getter (putter) woken for an item (a free slot) is not handed that item: it
/// takes it when it runs, unless another task took it first, in which case it waits again. One
/// cancelled after its wake-up passes the wake-up on to the next getter (putter), so no item or
/// slot is ever left unclaimed while tasks wait.
template <class T, class Store>
class BasicQueue {
public:
    /// The item type.
    using value_type = T;
    class GetAwaiter;
    class PutAwaiter;
    /// What join() returns.
    using JoinAwaiter = Event::WaitAwaiter;

    /// A queue holding at most `maxsize` items (0: unbounded).
    explicit BasicQueue(std::size_t maxsize = 0, Store store = Store()) : maxsize_(maxsize), store_(std::move(store)) {
        finished_.set();
    }
    BasicQueue(const BasicQueue&) = delete;
    BasicQueue& operator=(const BasicQueue&) = delete;

    /// The capacity given at construction (0: unbounded).
    std::size_t maxsize() const noexcept { return maxsize_; }
    /// The number of items in the queue.
    std::size_t qsize() const noexcept { return store_.size(); }
    /// True if the queue holds no item.
    bool empty() const noexcept { return store_.empty(); }
    /// True if the queue holds maxsize() items (never for an unbounded queue).
    bool full() const noexcept { return maxsize_ > 0 && store_.size() >= maxsize_; }

    /// `co_await q.put(item)`: adds `item`, waiting while the queue is full (no suspension when
    /// there is room). Throws QueueShutDown once shutdown() was called.
    /// Cancel safety: the item is not added (it is destroyed with the awaiter); a free slot this
    /// putter had been woken for goes to the next putter.
    PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
    /// `T item = co_await q.get()`: removes and returns an item, waiting while the queue is empty
    /// (no suspension when it is not). Throws QueueShutDown once the queue is shut down and empty.
    /// Cancel safety: no item is removed; an item this getter had been woken for stays in the
    /// queue and the next getter is woken for it.
    GetAwaiter get() noexcept { return GetAwaiter(*this); }

    /// Adds `item` without waiting; wakes the oldest waiting getter. Throws QueueShutDown after
    /// shutdown(), QueueFull if the queue is full (`item` is then left untouched).
    template <class U = T>
        requires std::constructible_from<T, U&&>
    void put_nowait(U&& item) {
        if (shutdown_) throw QueueShutDown();
        if (full()) throw QueueFull();
        store_.push(std::forward<U>(item));
        ++unfinished_;
        finished_.clear();
        getters_.wake_first();
    }
    /// Removes and returns an item without waiting; wakes the oldest waiting putter. Throws
    /// QueueShutDown if the queue is shut down and empty, QueueEmpty if it is just empty.
    T get_nowait() {
        if (empty()) {
            if (shutdown_) throw QueueShutDown();
            throw QueueEmpty();
        }
        T item = store_.pop();
        putters_.wake_first();
        return item;
    }

    /// Marks one item taken by get() as processed. Throws std::invalid_argument when called more
    /// often than items were put (asyncio's ValueError).
    void task_done() {
        if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
        if (--unfinished_ == 0) finished_.set();
    }
    /// `co_await q.join()`: waits until every item put has been marked done with task_done() (at
    /// once if none is pending). Cancel safety: nothing is left behind.
    JoinAwaiter join() noexcept { return finished_.wait(); }

    /// Shuts the queue down (asyncio 3.13): put() and put_nowait() throw QueueShutDown from now
    /// on, get() and get_nowait() once the queue is empty; every blocked put() and get() wakes to
    /// re-check. With `immediate`, the items still queued are dropped and counted as done (join()
    /// returns once the items already taken are done), so get() throws at once.
    void shutdown(bool immediate = false) {
        shutdown_ = true;
        if (immediate) {
            const std::size_t dropped = store_.size();
            store_.clear();
            unfinished_ -= dropped < unfinished_ ? dropped : unfinished_;
            if (unfinished_ == 0) finished_.set();
        }
        getters_.wake_all();
        putters_.wake_all();
    }

    /// What get() returns; await it once (movable until then, e.g. into wait_for()).
    /// Cancel safety: see get().
    class BULB_AWAITABLE GetAwaiter {
    public:
        explicit GetAwaiter(BasicQueue& queue) noexcept : q_(&queue) {}
        bool await_ready() const noexcept { return !q_->empty() || q_->shutdown_; }
        // The slow path: asyncio's get() loop, run inline as a Task (allocated only here).
        auto await_suspend(std::coroutine_handle<> h) {
            slow_.emplace(q_->get_slow());
            return slow_->awaiter.await_suspend(h);
        }
        T await_resume() {
            if (slow_) return slow_->awaiter.await_resume();
            return q_->get_nowait();
        }

    private:
        BasicQueue* q_;
        std::optional<detail::InlineTask<T>> slow_;
    };

    /// What put() returns; owns the item until it is queued. Await it once (movable until then).
    /// Cancel safety: see put().
    class BULB_AWAITABLE PutAwaiter {
    public:
        PutAwaiter(BasicQueue& queue, T item) : q_(&queue), item_(std::move(item)) {}
        bool await_ready() const noexcept { return !q_->full() || q_->shutdown_; }
        // The slow path: asyncio's put() loop, run inline as a Task (allocated only here).
        auto await_suspend(std::coroutine_handle<> h) {
            slow_.emplace(q_->put_slow(item_));
            return slow_->awaiter.await_suspend(h);
        }
        void await_resume() {
            if (slow_)
                slow_->awaiter.await_resume();
            else
                q_->put_nowait(std::move(item_));
        }

    private:
        BasicQueue* q_;
        T item_;
        std::optional<detail::InlineTask<void>> slow_;
    };

private:
    // asyncio's get(): wait while empty, re-checking after every wake-up.
    Task<T> get_slow() {
        while (empty()) {
            if (shutdown_) throw QueueShutDown();
            detail::WaitNode getter;
            try {
                co_await getters_.wait(getter, "Queue::get()");
            } catch (...) {
                if (getter.orphaned()) throw;  // the queue is gone: touch nothing of it
                // Woken for an item we will not take: wake the next getter for it.
                if (getter.woken() && !empty()) getters_.wake_first();
                throw;
            }
        }
        co_return get_nowait();
    }
    // asyncio's put(): wait while full, re-checking after every wake-up.
    Task<void> put_slow(T& item) {
        while (full()) {
            if (shutdown_) throw QueueShutDown();
            detail::WaitNode putter;
            try {
                co_await putters_.wait(putter, "Queue::put()");
            } catch (...) {
                if (putter.orphaned()) throw;
                // Woken for a slot we will not fill: wake the next putter for it.
                if (putter.woken() && !full()) putters_.wake_first();
                throw;
            }
        }
        put_nowait(std::move(item));
    }

    std::size_t maxsize_;
    Store store_;
    detail::WaitList getters_;  // waiting getters only: woken and cancelled ones leave at once
    detail::WaitList putters_;
    std::size_t unfinished_ = 0;  // items put and not yet marked done
    Event finished_;              // set while unfinished_ == 0
    bool shutdown_ = false;
};

/// First in, first out (asyncio.Queue).
template <class T>
class Queue : public BasicQueue<T, detail::FifoStore<T>> {
public:
    /// A queue holding at most `maxsize` items (0: unbounded).
    explicit Queue(std::size_t maxsize = 0) : BasicQueue<T, detail::FifoStore<T>>(maxsize) {}
};

/// Last in, first out (asyncio.LifoQueue).
template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoStore<T>> {
public:
    /// A stack holding at most `maxsize` items (0: unbounded).
    explicit LifoQueue(std::size_t maxsize = 0) : BasicQueue<T, detail::LifoStore<T>>(maxsize) {}
};

/// Smallest item first by `Compare` (asyncio.PriorityQueue); equal items in insertion order.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::PriorityStore<T, Compare>> {
public:
    /// A priority queue holding at most `maxsize` items (0: unbounded), ordered by `compare`.
    explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
        : BasicQueue<T, detail::PriorityStore<T, Compare>>(maxsize,
                                                           detail::PriorityStore<T, Compare>(std::move(compare))) {}
};

}  // namespace bulb
