// SPDX-License-Identifier: MIT
/// @file
/// WaitList: the FIFO of tasks parked on a lock, event, condition, semaphore, barrier or queue
/// (the deque of futures asyncio's primitives keep), as an intrusive list of WaitNodes that live in
/// the awaiting frames, so parking a task allocates nothing. Internal to the coroutine layer.
///
/// A node is parked by WaitList::park() (or `co_await list.wait(node)`), woken by the primitive
/// with WaitList::wake(), or interrupted by cancellation (WaitNode::cancel_wait). Either way the
/// task resumes on a later loop iteration and calls WaitNode::finish_wait() first, which throws
/// CancelledError when the wait was interrupted or a cancel() arrived after the wake-up: the
/// awaiter's catch handler then passes on whatever the wake-up had handed it (asyncio's rule).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/runner.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace bulb::detail {

class WaitList;

/// One parked task. Lives in the awaiting frame (an awaiter member or a coroutine local) and is the
/// Waiter that cancellation reaches. While it waits, the node holds a reference to the task.
class WaitNode final : public Waiter {
public:
    enum class State : std::uint8_t {
        idle,       ///< never parked (or the awaiter took its fast path)
        waiting,    ///< parked, not woken yet
        woken,      ///< woken by the primitive; resumes on a later iteration
        cancelled,  ///< the wait was interrupted by cancellation; resumes with CancelledError
    };

    /// An idle node.
    WaitNode() noexcept = default;
    /// Awaiters are movable until awaited; moving copies nothing (only an idle node may be moved).
    WaitNode(WaitNode&&) noexcept {}
    WaitNode& operator=(WaitNode&&) = delete;
    /// Leaves the list (a frame destroyed while parked) and drops the node's reference.
    ~WaitNode();

    /// Where the node is in its wait.
    State state() const noexcept { return state_; }
    /// True once the primitive woke this node (it may have handed it a lock, permit or slot).
    bool woken() const noexcept { return state_ == State::woken; }
    /// True when the list was destroyed while the node was parked: the primitive is gone, and the
    /// awaiter must not touch it any more (only cancellation resumes such a task).
    bool orphaned() const noexcept { return orphaned_; }

    /// Interrupts a wait that has not been woken; false once woken (asyncio's fut.cancel()).
    bool cancel_wait(const std::string& message) override;

    /// First call in await_resume after a park: leaves the list, then throws CancelledError if the
    /// task has a cancel due or the wait was interrupted.
    void finish_wait();

private:
    friend class WaitList;
    // Schedules the task's step, then drops the node's reference (the step holds one now).
    void wake_task() noexcept;
    void drop_ref() noexcept;

    WaitList* list_ = nullptr;
    WaitNode* prev_ = nullptr;
    WaitNode* next_ = nullptr;
    TaskRunner* runner_ = nullptr;
    State state_ = State::idle;
    bool holds_ref_ = false;
    bool orphaned_ = false;
    std::string message_;
};

/// FIFO of parked tasks; loop thread only. Destroying a list with parked nodes orphans them and
/// drops their references: a task nothing else holds is destroyed (reported in debug mode); one
/// still held can only leave by cancellation, and then touches nothing of the dead primitive.
class WaitList {
public:
    /// Awaitable parking the current task in a list until it is woken (for coroutine slow paths).
    /// Cancel safety: a cancelled wait leaves the list; whether it had been woken stays readable
    /// from the node (woken()), so the caller can pass on what the wake-up handed it.
    struct Park {
        WaitList* list;
        WaitNode* node;
        const char* what;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { list->park(*node, h, what); }
        void await_resume() { node->finish_wait(); }
    };

    /// An empty list.
    WaitList() noexcept = default;
    WaitList(const WaitList&) = delete;
    WaitList& operator=(const WaitList&) = delete;
    /// Orphans the nodes still parked (see the class comment).
    ~WaitList() {
        while (WaitNode* n = head_) {
            unlink(*n);
            n->orphaned_ = true;
            n->drop_ref();  // may destroy the task, and with it nodes still in this list
        }
    }

    /// True when no node is in the list.
    bool empty() const noexcept { return head_ == nullptr; }
    /// The oldest node (waiting, or woken but kept in the list), or nullptr.
    WaitNode* front() const noexcept { return head_; }
    /// The oldest node that is still waiting (skips woken ones), or nullptr.
    WaitNode* first_waiting() const noexcept {
        for (WaitNode* n = head_; n; n = n->next_)
            if (n->state_ == WaitNode::State::waiting) return n;
        return nullptr;
    }
    /// The number of nodes in the list (O(n)).
    std::size_t size() const noexcept {
        std::size_t n = 0;
        for (WaitNode* p = head_; p; p = p->next_) ++n;
        return n;
    }

    /// Parks the current task at the back of the list (call last in await_suspend). Throws
    /// InvalidStateError naming `what` outside a task.
    void park(WaitNode& node, std::coroutine_handle<> h, const char* what) {
        TaskRunner& runner = TaskRunner::require_current(what);
        runner.add_ref();
        node.runner_ = &runner;
        node.holds_ref_ = true;
        node.state_ = WaitNode::State::waiting;
        node.prev_ = tail_;
        node.next_ = nullptr;
        (tail_ ? tail_->next_ : head_) = &node;
        tail_ = &node;
        node.list_ = this;
        runner.suspend(h, &node);  // a cancel already due interrupts the wait at once
    }
    /// `co_await list.wait(node, what)`: parks until woken; throws CancelledError if cancelled.
    Park wait(WaitNode& node, const char* what) noexcept { return Park{this, &node, what}; }

    /// Wakes a waiting node: its task resumes on a later iteration. With `keep_linked` the node
    /// stays in the list until it resumes (a woken Lock or Semaphore waiter still counts as queued).
    void wake(WaitNode& node, bool keep_linked = false) noexcept {
        if (!keep_linked) unlink(node);
        node.state_ = WaitNode::State::woken;
        node.wake_task();
    }
    /// Wakes the oldest node and removes it (asyncio's _wakeup_next); false if the list is empty.
    bool wake_first() noexcept {
        if (!head_) return false;
        wake(*head_);
        return true;
    }
    /// Wakes every node and empties the list.
    void wake_all() noexcept {
        while (head_) wake(*head_);
    }

private:
    friend class WaitNode;
    void unlink(WaitNode& n) noexcept {
        (n.prev_ ? n.prev_->next_ : head_) = n.next_;
        (n.next_ ? n.next_->prev_ : tail_) = n.prev_;
        n.prev_ = n.next_ = nullptr;
        n.list_ = nullptr;
    }

    WaitNode* head_ = nullptr;
    WaitNode* tail_ = nullptr;
};

inline WaitNode::~WaitNode() {
    if (list_) list_->unlink(*this);
    drop_ref();
}

inline bool WaitNode::cancel_wait(const std::string& message) {
    if (state_ != State::waiting) return false;
    if (list_) list_->unlink(*this);
    state_ = State::cancelled;
    message_ = message;
    wake_task();
    return true;
}

inline void WaitNode::finish_wait() {
    if (list_) list_->unlink(*this);
    runner_->throw_if_cancel_due();
    if (state_ == State::cancelled) throw CancelledError(std::move(message_));
}

inline void WaitNode::wake_task() noexcept {
    try {
        runner_->schedule_step();
    } catch (...) {
        // The loop is closed: nothing runs any more, and dropping the reference frees the task.
    }
    drop_ref();
}

inline void WaitNode::drop_ref() noexcept {
    if (holds_ref_) {
        holds_ref_ = false;
        runner_->release_ref();
    }
}

}  // namespace bulb::detail
