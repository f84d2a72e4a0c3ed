// SPDX-License-Identifier: MIT
/// @file
/// LoopResource: something a loop must end when it closes (transports, servers).
#pragma once

#include <cstddef>

namespace bulb::detail {

/// Linked into its loop's list for as long as it is open; EventLoop::close() ends what is left.
class LoopResource {
public:
    /// The loop is closing with this still open: abort it (its callbacks still run once).
    virtual void close_for_loop() noexcept = 0;

protected:
    ~LoopResource() = default;

private:
    friend class ResourceList;
    LoopResource* prev_ = nullptr;
    LoopResource* next_ = nullptr;
};

/// An intrusive doubly linked list of resources.
class ResourceList {
public:
    void push(LoopResource* r) noexcept {
        r->prev_ = nullptr;
        r->next_ = head_;
        if (head_) head_->prev_ = r;
        head_ = r;
        ++size_;
    }
    void remove(LoopResource* r) noexcept {
        (r->prev_ ? r->prev_->next_ : head_) = r->next_;
        if (r->next_) r->next_->prev_ = r->prev_;
        r->prev_ = r->next_ = nullptr;
        --size_;
    }
    LoopResource* front() const noexcept { return head_; }
    static LoopResource* next(LoopResource* r) noexcept { return r->next_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

private:
    LoopResource* head_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace bulb::detail
