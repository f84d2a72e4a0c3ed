// SPDX-License-Identifier: MIT
/// @file
/// Channel<T>: a bounded FIFO between tasks on any loops (of one LoopGroup or not): send() waits
/// while it is full, receive() while it is empty; close() ends it (Go's channel, asyncio.Queue's
/// shape across threads).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/await.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/future.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace bulb {

/// A bounded multi-producer, multi-consumer channel usable from any thread and any loop.
///
/// A shared handle (copies share one channel); every member is thread-safe. Items keep FIFO
/// order; a waiting task is woken on its own loop through call_soon_threadsafe. Waiters are
/// woken in the order they came; a woken waiter that finds its turn taken waits again.
template <class T>
class Channel {
    struct Waiter {
        explicit Waiter(EventLoop& l) : loop(&l), ready(l) {}
        EventLoop* loop;
        Future<void> ready;  // touched on `loop`'s thread only
    };
    using WaiterPtr = std::shared_ptr<Waiter>;
    struct State {
        explicit State(std::size_t c) : capacity(c) {}
        std::mutex mutex;
        std::deque<T> items;
        std::size_t capacity;
        bool closed = false;
        std::deque<WaiterPtr> senders, receivers;
    };

public:
    /// A channel holding at most `capacity` items (>= 1; std::invalid_argument otherwise).
    explicit Channel(std::size_t capacity) : s_(std::make_shared<State>(capacity)) {
        if (capacity == 0) throw std::invalid_argument("Channel: capacity must be at least 1");
    }

    /// Adds `value`, waiting while the channel is full. Throws InvalidStateError once closed.
    /// Cancel safety: a cancelled send added nothing (the value is dropped) and passes on a turn
    /// it was given. Loop thread (any running loop).
    Task<void> send(T value) {
        std::shared_ptr<State> s = s_;
        for (;;) {
            WaiterPtr woken, mine;
            {
                std::lock_guard lock(s->mutex);
                if (s->closed) throw InvalidStateError("Channel::send: the channel is closed");
                if (s->items.size() < s->capacity) {
                    s->items.push_back(std::move(value));
                    woken = pop_front(s->receivers);
                } else {
                    mine = std::make_shared<Waiter>(get_running_loop());
                    s->senders.push_back(mine);
                }
            }
            if (!mine) {
                if (woken) wake(std::move(woken));
                co_return;
            }
            Future<void> ready = mine->ready;
            try {
                co_await ready;
            } catch (...) {
                leave(*s, s->senders, mine, true);
                throw;
            }
        }
    }

    /// Takes the oldest item, waiting while the channel is empty; std::nullopt once it is closed
    /// and drained. Cancel safety: a cancelled receive took nothing and passes on a turn it was
    /// given. Loop thread (any running loop).
    Task<std::optional<T>> receive() {
        std::shared_ptr<State> s = s_;
        for (;;) {
            WaiterPtr woken, mine;
            std::optional<T> out;
            {
                std::lock_guard lock(s->mutex);
                if (!s->items.empty()) {
                    out.emplace(std::move(s->items.front()));
                    s->items.pop_front();
                    woken = pop_front(s->senders);
                } else if (!s->closed) {
                    mine = std::make_shared<Waiter>(get_running_loop());
                    s->receivers.push_back(mine);
                }
            }
            if (!mine) {
                if (woken) wake(std::move(woken));
                co_return out;
            }
            Future<void> ready = mine->ready;
            try {
                co_await ready;
            } catch (...) {
                leave(*s, s->receivers, mine, false);
                throw;
            }
        }
    }

    /// Adds `value` unless the channel is full or closed; returns whether it did (the value is
    /// left untouched when not). Any thread.
    bool try_send(T& value) {
        WaiterPtr woken;
        {
            std::lock_guard lock(s_->mutex);
            if (s_->closed || s_->items.size() >= s_->capacity) return false;
            s_->items.push_back(std::move(value));
            woken = pop_front(s_->receivers);
        }
        if (woken) wake(std::move(woken));
        return true;
    }

    /// Takes the oldest item if there is one. Any thread.
    std::optional<T> try_receive() {
        WaiterPtr woken;
        std::optional<T> out;
        {
            std::lock_guard lock(s_->mutex);
            if (s_->items.empty()) return std::nullopt;
            out.emplace(std::move(s_->items.front()));
            s_->items.pop_front();
            woken = pop_front(s_->senders);
        }
        if (woken) wake(std::move(woken));
        return out;
    }

    /// Closes the channel: waiting and later sends throw InvalidStateError; receivers get the
    /// items left, then std::nullopt. Idempotent; any thread.
    void close() {
        std::deque<WaiterPtr> all;
        {
            std::lock_guard lock(s_->mutex);
            s_->closed = true;
            all.swap(s_->senders);
            for (auto& w : s_->receivers) all.push_back(std::move(w));
            s_->receivers.clear();
        }
        for (auto& w : all) wake(std::move(w));
    }

    /// Items held now (a snapshot). Any thread.
    std::size_t size() const {
        std::lock_guard lock(s_->mutex);
        return s_->items.size();
    }
    /// The capacity.
    std::size_t capacity() const noexcept { return s_->capacity; }
    /// True after close().
    bool is_closed() const {
        std::lock_guard lock(s_->mutex);
        return s_->closed;
    }

private:
    static WaiterPtr pop_front(std::deque<WaiterPtr>& q) {
        if (q.empty()) return nullptr;
        WaiterPtr w = std::move(q.front());
        q.pop_front();
        return w;
    }

    /// Wakes `w` on its loop. If that loop is closed its task can never run again: nothing to do.
    static void wake(WaiterPtr w) {
        EventLoop* loop = w->loop;
        try {
            loop->call_soon_threadsafe([w = std::move(w)] {
                if (!w->ready.done()) w->ready.set_result();
            });
        } catch (const InvalidStateError&) {
        }
    }

    /// A waiter leaves the line (cancelled): if it had been woken already, its turn goes to the
    /// next waiter of the same side when there is still room (sender) or an item (receiver).
    static void leave(State& s, std::deque<WaiterPtr>& line, const WaiterPtr& me, bool sender) {
        WaiterPtr next;
        {
            std::lock_guard lock(s.mutex);
            auto it = std::find(line.begin(), line.end(), me);
            if (it != line.end())
                line.erase(it);
            else if (sender ? s.items.size() < s.capacity : !s.items.empty())
                next = pop_front(line);
        }
        if (next) wake(std::move(next));
    }

    std::shared_ptr<State> s_;
};

}  // namespace bulb
